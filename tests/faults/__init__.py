"""Fault tests: kill -9, database outages, poisoned settings, interrupted migrations, corrupt files."""

"""Adapters: code that turns the outside world's bytes into the engine's value types.

Adapters may import ``engine.core`` types; ``engine.core`` never imports an adapter.
"""

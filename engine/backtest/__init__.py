"""Tools around ``mode=backtest`` (docs/backtest.md)."""

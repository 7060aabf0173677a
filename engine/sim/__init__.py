"""The embedded market simulator (the default data source)."""

from engine.sim.simulator import MarketSimulator

__all__ = ["MarketSimulator"]

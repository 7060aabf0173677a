"""The embedded market simulator (the default data source)."""

from engine.sim.informed import Leader
from engine.sim.news import BEARISH_PHRASES, BULLISH_PHRASES, NEUTRAL_PHRASES
from engine.sim.simulator import MarketSimulator

__all__ = ["BEARISH_PHRASES", "BULLISH_PHRASES", "NEUTRAL_PHRASES", "Leader", "MarketSimulator"]

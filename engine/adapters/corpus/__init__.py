"""Readers of a backtest corpus: recorded and public data in one directory layout.

- :mod:`.layout`: where each file lives, and listings of symbols, days and markets;
- :mod:`.binance`: data.binance.vision kline and aggTrades dumps (checksums, ms/µs times,
  gap reports);
- :mod:`.gamma`: Polymarket Gamma market objects -> :class:`CorpusMarket` (tokens, times,
  tick, fees, outcome);
- :mod:`.booktop`: the recorded top-of-book CSV (reader and writer);
- :mod:`.prices_history`: coarse CLOB price series (marks and plots, never fills);
- :mod:`.replay`: :class:`ReplayFeed`, a corpus behind the engine's Feed port.

See ``docs/corpus.md``.
"""

from engine.adapters.corpus.binance import (
    AggTrades,
    Klines,
    iter_aggtrades,
    iter_klines,
    kline_gaps,
    read_aggtrades_file,
    read_kline_file,
    verify_checksum,
    write_checksum,
)
from engine.adapters.corpus.booktop import (
    BookTop,
    BookTopChunk,
    BookTopWriter,
    iter_booktop,
    read_booktop,
    write_booktop,
)
from engine.adapters.corpus.errors import (
    GAP_AGG_IDS,
    GAP_BARS,
    GAP_DAY,
    CorpusError,
    CorpusGapWarning,
    Gap,
)
from engine.adapters.corpus.gamma import (
    CRYPTO_FEE_RATE,
    CorpusMarket,
    iter_markets,
    parse_market,
    read_market,
    split_resolved,
)
from engine.adapters.corpus.layout import CorpusLayout
from engine.adapters.corpus.prices_history import PriceHistory, read_prices_history
from engine.adapters.corpus.replay import STRIKE_SOURCE, ReplayFeed

__all__ = [
    "CRYPTO_FEE_RATE",
    "GAP_AGG_IDS",
    "GAP_BARS",
    "GAP_DAY",
    "STRIKE_SOURCE",
    "AggTrades",
    "BookTop",
    "BookTopChunk",
    "BookTopWriter",
    "CorpusError",
    "CorpusGapWarning",
    "CorpusLayout",
    "CorpusMarket",
    "Gap",
    "Klines",
    "PriceHistory",
    "ReplayFeed",
    "iter_aggtrades",
    "iter_booktop",
    "iter_klines",
    "iter_markets",
    "kline_gaps",
    "parse_market",
    "read_aggtrades_file",
    "read_booktop",
    "read_kline_file",
    "read_market",
    "read_prices_history",
    "split_resolved",
    "verify_checksum",
    "write_booktop",
    "write_checksum",
]

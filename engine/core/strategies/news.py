"""News Trader: a headline's direction and confidence -> the asset's Up/Down markets.

For each headline about a symbol it trades, the classifier (a component,
keyword lexicon by default) gives a direction and a confidence; the strategy
proposes the token in that direction on every live Up/Down market of the
symbol with at least ``min_remaining_s`` left. Its gates (confidence, odds,
staleness) filter, and a confidence-scaled stake sizes it. Neutral headlines
are proposed with confidence 0 so the confidence gate records them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from engine.core.frame import SignalFrame
from engine.core.gates import Gate
from engine.core.news import Classifier, KeywordClassifier
from engine.core.sizers import Sizer
from engine.core.state import MarketState
from engine.core.strategies.base import Held, check_common, min_remaining
from engine.core.strategies.common import not_held, price_rows
from engine.core.types import DOWN, UP, UPDOWN
from engine.core.validation import check_declared


@dataclass(frozen=True)
class NewsTrader:
    name: str = "news"
    enabled: bool = True
    symbols: list[str] = field(default_factory=lambda: ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    windows: list[int] = field(default_factory=lambda: [300, 900])
    min_remaining_s: int = min_remaining(60, "trade markets with at least this much left")
    classifier: Classifier = field(default_factory=KeywordClassifier)
    gates: dict[str, Gate] = field(default_factory=dict)
    sizers: dict[str, Sizer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_common(self)
        check_declared(self)

    def propose(self, state: MarketState, held: Held) -> SignalFrame:
        headlines = [h for h in state.news if h.symbol in self.symbols]
        live = state.live
        if not headlines or not len(live):
            return SignalFrame.empty(self.name, state.ts)
        remaining = live.end_ts - state.ts
        tradable = (
            (live.kind == UPDOWN)
            & np.isin(live.window_s, self.windows)
            & (remaining >= self.min_remaining_s)
        )
        idx, up, trigger, conf, age = [], [], [], [], []
        for h in headlines:
            direction, confidence = self.classifier.classify(h.text)
            rows = np.flatnonzero(tradable & (live.symbol == h.symbol))
            tag = f"news@{int(h.ts)}#{zlib.crc32(h.text.encode()):08x}"
            for r in rows.tolist():
                idx.append(r)
                up.append(direction >= 0)
                trigger.append(tag)
                conf.append(confidence)
                age.append(state.ts - h.ts)
        idx_a, up_a = np.array(idx, dtype=int), np.array(up, dtype=bool)
        side = np.where(up_a, UP, DOWN).astype(object)
        keep = not_held(self.name, live.market_id[idx_a], side, held)
        return price_rows(
            state,
            self.name,
            idx_a[keep],
            up_a[keep],
            np.array(trigger, dtype=object)[keep],
            confidence=np.array(conf)[keep],
            age_s=np.array(age)[keep],
        )

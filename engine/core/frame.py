"""The SignalFrame: one row per candidate, a column per attribute (struct of arrays).

Strategies fill the proposal columns; gates write ``reason``/``reason_value``
for the rows they reject (first failing gate wins); the sizer chain writes
``stake``. Nothing here is per-row Python except building the idempotency
keys, which is one string per candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

FLOAT_COLUMNS = (
    "price",
    "ask_size",
    "fair",
    "edge",
    "z",
    "sigma",
    "t_remaining_s",
    "fee_rate",
    "delta_1pct",
    "gamma_1pct",
    "vega_1pt",
    "theta_1min",
    "iv",
    "iv_rv",
    "reason_value",
    "stake",
)
OBJECT_COLUMNS = ("market_id", "symbol", "side", "token_id", "trigger", "reason")


@dataclass
class SignalFrame:
    """Candidates of one strategy at one instant.

    Columns (arrays of equal length ``n``):

    - ``market_id``, ``symbol``, ``side`` (``UP``/``DOWN``), ``token_id``, ``trigger``
    - ``price``: best ask of the token (what buying costs now), ``ask_size``
    - ``fair``: model probability the token pays; ``edge``: fair - price - taker fee per share
    - ``z``: signed sigma of the move that triggered it; ``sigma``: realized vol (annualised)
    - ``t_remaining_s``: seconds to expiry; ``fee_rate``: the market's taker fee rate
    - scaled Greeks ``delta_1pct``, ``gamma_1pct``, ``vega_1pt``, ``theta_1min``;
      ``iv`` implied vol of the ask and ``iv_rv`` = iv / sigma
    - ``reason`` (None while accepted) and ``reason_value``; ``stake`` in USD
    """

    strategy: str
    ts: float
    market_id: np.ndarray
    symbol: np.ndarray
    side: np.ndarray
    token_id: np.ndarray
    trigger: np.ndarray
    price: np.ndarray
    ask_size: np.ndarray
    fair: np.ndarray
    edge: np.ndarray
    z: np.ndarray
    sigma: np.ndarray
    t_remaining_s: np.ndarray
    fee_rate: np.ndarray
    delta_1pct: np.ndarray
    gamma_1pct: np.ndarray
    vega_1pt: np.ndarray
    theta_1min: np.ndarray
    iv: np.ndarray
    iv_rv: np.ndarray
    reason: np.ndarray = field(default=None)  # type: ignore[assignment]
    reason_value: np.ndarray = field(default=None)  # type: ignore[assignment]
    stake: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(self.market_id)
        for f in fields(self):
            if f.name in ("strategy", "ts"):
                continue
            value = getattr(self, f.name)
            if value is None:
                value = np.full(n, None, dtype=object) if f.name == "reason" else np.full(n, np.nan)
                if f.name == "stake":
                    value = np.zeros(n)
            dtype = object if f.name in OBJECT_COLUMNS else float
            value = np.asarray(value, dtype=dtype)
            if value.shape != (n,):
                raise ValueError(f"SignalFrame.{f.name} has shape {value.shape}, expected ({n},)")
            setattr(self, f.name, value)

    def __len__(self) -> int:
        return len(self.market_id)

    @property
    def accepted(self) -> np.ndarray:
        """Boolean mask of rows no stage has rejected."""
        return np.equal(self.reason, None)

    def reject(self, mask: np.ndarray, reason: str, value: np.ndarray) -> None:
        """Mark rows in ``mask`` that are still accepted as rejected by ``reason``."""
        hit = mask & self.accepted
        self.reason[hit] = reason
        self.reason_value[hit] = np.asarray(value, dtype=float)[hit]

    def keys(self) -> list[str]:
        """Idempotency keys: strategy, market (which fixes the window), side, trigger."""
        return [
            f"{self.strategy}|{m}|{s}|{t}"
            for m, s, t in zip(self.market_id, self.side, self.trigger, strict=True)
        ]

    def take(self, mask: np.ndarray) -> SignalFrame:
        """A new frame with only the rows where ``mask`` is true."""
        mask = np.asarray(mask, dtype=bool)
        cols = {
            f.name: getattr(self, f.name)[mask]
            for f in fields(self)
            if f.name not in ("strategy", "ts")
        }
        return SignalFrame(strategy=self.strategy, ts=self.ts, **cols)

    @classmethod
    def empty(cls, strategy: str, ts: float) -> SignalFrame:
        cols = {name: np.empty(0, dtype=object) for name in OBJECT_COLUMNS if name != "reason"}
        cols |= {
            name: np.empty(0) for name in FLOAT_COLUMNS if name not in ("reason_value", "stake")
        }
        return cls(strategy=strategy, ts=ts, **cols)

"""The SignalFrame: one row per candidate, a column per attribute (struct of arrays).

Strategies fill the proposal columns; gates write ``reason``/``reason_value``
for the rows they reject (first failing gate wins); the sizer chain writes
``stake``. Nothing here is per-row Python except building the idempotency
keys, which is one string per candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# name -> (dtype, meaning). Object columns default to None, float columns to NaN.
COLUMNS: dict[str, tuple[type, str]] = {
    "market_id": (object, "the market"),
    "symbol": (object, "the underlying, e.g. BTCUSDT"),
    "side": (object, "UP (Yes) or DOWN (No): the token bought"),
    "token_id": (object, "the token bought"),
    "trigger": (object, "what made the strategy propose it (part of the idempotency key)"),
    "group_key": (object, "legs of one multi-leg candidate (an arb) share it; None otherwise"),
    "price": (float, "best ask of the token: what buying costs now"),
    "ask_size": (float, "shares at the best ask"),
    "depth_usd": (float, "USD of asks within the venue's slippage of the best ask"),
    "fair": (float, "model probability that the token pays $1"),
    "edge": (float, "fair - price - taker fee per share"),
    "z": (float, "signed sigma of the move that triggered it"),
    "sigma": (float, "realized vol, annualised"),
    "window_s": (float, "the market's window length, s"),
    "t_remaining_s": (float, "seconds to expiry"),
    "fee_rate": (float, "the market's taker fee rate"),
    "delta_1pct": (float, "price change per 1 % spot move"),
    "gamma_1pct": (float, "change of delta_1pct per 1 % spot move"),
    "vega_1pt": (float, "price change per 1 vol point"),
    "theta_1min": (float, "price change per minute of time passing"),
    "iv": (float, "implied vol of the ask"),
    "iv_rv": (float, "iv / sigma"),
    "book_age_s": (float, "seconds since the token's book was published"),
    "spot_age_s": (float, "seconds since the last spot tick of the symbol"),
    "age_s": (float, "age of an external signal (leader trade, headline), s"),
    "ref_price": (float, "price of an external signal (the leader's fill)"),
    "confidence": (float, "a classifier's confidence in [0, 1]"),
    "group_profit": (float, "arb: 1 - sum of leg asks and fees per share set"),
    "reason": (object, "first stage that rejected the row; None while accepted"),
    "reason_value": (float, "the value that stage tested"),
    "stake": (float, "USD to spend on the token (fees on top)"),
}
OBJECT_COLUMNS = tuple(k for k, (t, _) in COLUMNS.items() if t is object)
FLOAT_COLUMNS = tuple(k for k, (t, _) in COLUMNS.items() if t is float)
REQUIRED = ("market_id", "symbol", "side", "token_id", "trigger", "price", "fee_rate")


@dataclass
class SignalFrame:
    """Candidates of one strategy at one instant: ``cols[name]`` is a column (see COLUMNS)."""

    strategy: str
    ts: float
    cols: dict[str, np.ndarray] = field(repr=False)

    def __init__(self, strategy: str, ts: float, **columns: object) -> None:
        unknown = set(columns) - set(COLUMNS)
        if unknown:
            raise ValueError(f"SignalFrame: unknown columns {sorted(unknown)}")
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise ValueError(f"SignalFrame: missing columns {missing}")
        n = len(columns["market_id"])  # type: ignore[arg-type]
        self.strategy, self.ts, self.cols = strategy, ts, {}
        for name, (dtype, _) in COLUMNS.items():
            if name in columns and columns[name] is not None:
                value = np.asarray(columns[name], dtype=dtype)
                if value.shape == ():
                    value = np.full(n, value, dtype=dtype)
            elif name in _WRITTEN:
                value = np.full(n, None, dtype=object) if dtype is object else np.full(n, np.nan)
                if name == "stake":
                    value = np.zeros(n)
            else:
                value = _blank(n, dtype)
            if value.shape != (n,):
                raise ValueError(f"SignalFrame.{name} has shape {value.shape}, expected ({n},)")
            self.cols[name] = value
        self._ok = np.equal(self.cols["reason"], None)

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("cols")
        if cols is not None and name in cols:
            return cols[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: object) -> None:
        if name in COLUMNS:
            self.cols[name] = np.asarray(value, dtype=COLUMNS[name][0])
            if name == "reason":
                object.__setattr__(self, "_ok", np.equal(self.cols["reason"], None))
        else:
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return len(self.cols["market_id"])

    @property
    def accepted(self) -> np.ndarray:
        """Boolean mask of rows no stage has rejected (a copy: change it through ``reject``)."""
        return self._ok.copy()

    def reject(self, mask: np.ndarray, reason: str | np.ndarray, value: np.ndarray | float) -> None:
        """Mark rows in ``mask`` that are still accepted as rejected by ``reason``.

        ``reason`` is one code, or an array of codes aligned with the rows.
        """
        hit = np.asarray(mask, dtype=bool) & self._ok
        if not hit.any():
            return
        self._ok[hit] = False
        self.cols["reason"][hit] = reason if isinstance(reason, str) else np.asarray(reason)[hit]
        value = np.broadcast_to(np.asarray(value, dtype=float), hit.shape)
        self.cols["reason_value"][hit] = value[hit]

    def keys(self) -> list[str]:
        """Idempotency keys: strategy, market (which fixes the window), side, trigger."""
        return [
            f"{self.strategy}|{m}|{s}|{t}"
            for m, s, t in zip(self.market_id, self.side, self.trigger, strict=True)
        ]

    def take(self, mask: np.ndarray) -> SignalFrame:
        """A new frame with only the rows where ``mask`` is true."""
        mask = np.asarray(mask, dtype=bool)
        return SignalFrame(self.strategy, self.ts, **{k: v[mask] for k, v in self.cols.items()})

    def groups(self) -> tuple[np.ndarray, np.ndarray, int]:
        """``(grouped, inverse, n)``: rows that belong to a group, each row's group number
        (0..n-1; meaningless where not grouped) and the number of groups."""
        cached = self.__dict__.get("_groups")
        if cached is not None:
            return cached
        keys = self.cols["group_key"]
        grouped = ~np.equal(keys, None)
        if not grouped.any():
            result = (grouped, np.zeros(len(keys), dtype=int), 0)
        else:
            labels = np.where(grouped, keys, "").astype(str)
            uniq, inverse = np.unique(labels, return_inverse=True)
            result = (grouped, inverse, len(uniq))
        object.__setattr__(self, "_groups", result)  # group keys never change after proposal
        return result

    @staticmethod
    def concat(strategy: str, ts: float, frames: list[SignalFrame]) -> SignalFrame:
        frames = [f for f in frames if len(f)]
        if not frames:
            return SignalFrame.empty(strategy, ts)
        if len(frames) == 1:
            return frames[0]
        return SignalFrame(
            strategy, ts, **{k: np.concatenate([f.cols[k] for f in frames]) for k in COLUMNS}
        )

    @classmethod
    def empty(cls, strategy: str, ts: float) -> SignalFrame:
        frame = cls.__new__(cls)
        object.__setattr__(frame, "strategy", strategy)
        object.__setattr__(frame, "ts", ts)
        object.__setattr__(frame, "cols", dict(_EMPTY))  # zero-length, read-only: safe to share
        object.__setattr__(frame, "_ok", _EMPTY_OK)
        return frame


_EMPTY = {k: np.empty(0, dtype=t) for k, (t, _) in COLUMNS.items()}
_EMPTY_OK = np.empty(0, dtype=bool)
for _arr in (*_EMPTY.values(), _EMPTY_OK):
    _arr.flags.writeable = False
# Columns the pipeline writes into after proposal get their own arrays; any other column a
# strategy leaves out shares one read-only blank (NaN / None) array per length.
_WRITTEN = ("reason", "reason_value", "stake", "group_profit")
_BLANKS: dict[tuple[int, type], np.ndarray] = {}


def _blank(n: int, dtype: type) -> np.ndarray:
    arr = _BLANKS.get((n, dtype))
    if arr is None:
        arr = np.full(n, None, dtype=object) if dtype is object else np.full(n, np.nan)
        arr.flags.writeable = False
        if len(_BLANKS) > 4096:
            _BLANKS.clear()
        _BLANKS[(n, dtype)] = arr
    return arr

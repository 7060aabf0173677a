"""Helpers shared by the simulator's modules: field checks and market naming.

Every check raises ``ValueError`` with a message naming ``sim.<field>``, the
value and the allowed range, as the rest of the config does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime


def check(name: str, value: float, lo: float, hi: float, *, lo_open: bool = False) -> float:
    """``value`` as a float if it lies in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    ok = (lo < x if lo_open else lo <= x) and x <= hi
    if not ok or isinstance(value, bool):
        left = "(" if lo_open else "["
        raise ValueError(f"sim.{name}={value!r} must be in {left}{fmt(lo)}, {fmt(hi)}]")
    return x


def whole(name: str, value: int, lo: int, hi: int) -> int:
    """``value`` as an int if it is a whole number in ``[lo, hi]``."""
    try:
        ok = not isinstance(value, bool) and float(value).is_integer() and lo <= value <= hi
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"sim.{name}={value!r} must be a whole number in [{lo}, {hi}]")
    return int(value)


def windows(name: str, values: Sequence[int], *, allow_empty: bool) -> tuple[int, ...]:
    """Distinct window lengths in seconds, multiples of 60 in ``[60, 86400]``."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise ValueError(f"sim.{name}={values!r} must be a list of window lengths in seconds")
    out = tuple(whole(f"{name}[]", w, 60, 86400) for w in values)
    if (not out and not allow_empty) or len(set(out)) != len(out) or any(w % 60 for w in out):
        raise ValueError(
            f"sim.{name}={list(out)!r} must be distinct multiples of 60 in [60, 86400]"
        )
    return out


def fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def parse_start(start: str) -> int:
    """Epoch seconds of an ISO-8601 UTC time on a whole second."""
    try:
        dt = datetime.fromisoformat(start)
    except (TypeError, ValueError):
        raise ValueError(
            f"sim.start={start!r} must be an ISO-8601 UTC time like '2026-01-05T00:00:00Z'"
        ) from None
    if dt.tzinfo is None or dt.utcoffset().total_seconds() != 0:
        raise ValueError(f"sim.start={start!r} must be in UTC (end it with 'Z' or '+00:00')")
    ts = dt.astimezone(UTC).timestamp()
    if ts != int(ts):
        raise ValueError(f"sim.start={start!r} must be a whole second")
    return int(ts)


def window_label(window_s: int) -> str:
    """``300`` -> ``"5m"``, ``3600`` -> ``"1h"`` (the slug's window part)."""
    return f"{window_s // 3600}h" if window_s % 3600 == 0 else f"{window_s // 60}m"


def short_symbol(symbol: str) -> str:
    """``"BTCUSDT"`` -> ``"btc"`` (the slug's coin part)."""
    s = symbol.lower()
    return s[:-4] if s.endswith("usdt") and len(s) > 4 else s

"""Number formats the pages share (rendering only: no data is computed here)."""

from __future__ import annotations

import math


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def pct(x: float | None, digits: int = 1) -> str:
    return "–" if _missing(x) else f"{100 * x:.{digits}f}%"


def usd(x: float | None, sign: bool = False) -> str:
    if _missing(x):
        return "–"
    return f"{x:+,.2f} $" if sign else f"{x:,.2f} $"


def pval(x: float | None) -> str:
    return "–" if _missing(x) else f"{x:.3g}"


def ago(seconds: float | None) -> str:
    """``42 s``, ``3 min``, ``5 h``, ``326 d``."""
    if _missing(seconds):
        return "–"
    s = max(0.0, float(seconds))
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if s >= size:
            return f"{s / size:.0f} {unit}"
    return f"{s:.0f} s"

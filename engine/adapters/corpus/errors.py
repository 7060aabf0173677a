"""The corpus readers' error, gap and warning types.

Every reader fails loudly on bytes it cannot place: :class:`CorpusError` names the file, where
in it (line, column or JSON field), the value found and what was expected. Holes in the data
(a missing day, missing bars inside a day, skipped aggregate-trade ids) are not errors: they are
:class:`Gap` records handed to the caller, never filled in.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


class CorpusError(ValueError):
    """A corpus file holds something the reader cannot accept.

    ``path``: the file; ``where``: the place in it (``"line 7, column close"``, ``"field
    outcomePrices"``, ``""`` for the whole file); ``value``: what was found; ``expected``: the rule.
    """

    def __init__(self, path: Path | str, where: str, value: object, expected: str) -> None:
        self.path = Path(path)
        self.where = where
        self.value = value
        self.expected = expected
        place = f"{self.path}: {where}" if where else str(self.path)
        super().__init__(f"{place}: got {value!r}, expected {expected}")


# What a gap is missing: a whole day's file, bars inside a day, or aggregate-trade ids.
GAP_DAY = "day"
GAP_BARS = "bars"
GAP_AGG_IDS = "agg_ids"
_GAP_NOUN = {GAP_DAY: "day(s)", GAP_BARS: "bar(s)", GAP_AGG_IDS: "aggregate-trade id(s)"}


@dataclass(frozen=True, slots=True)
class Gap:
    """A hole in a corpus series, reported to the caller and never filled.

    ``series`` names the series (``"klines BTCUSDT 1s"``, ``"aggTrades BTCUSDT"``); ``kind``
    is :data:`GAP_DAY`, :data:`GAP_BARS` or :data:`GAP_AGG_IDS`; ``start_us``/``end_us`` bound
    the missing time (epoch microseconds, end exclusive; for missing aggregate-trade ids, the
    times of the trades on either side); ``missing`` counts what is missing (days, bars or ids);
    ``path`` is the file concerned (for a missing day, the path it should have had).
    """

    series: str
    kind: str
    start_us: int
    end_us: int
    missing: int
    path: Path

    def __str__(self) -> str:
        start, end = _iso_us(self.start_us), _iso_us(self.end_us)
        what = _GAP_NOUN.get(self.kind, self.kind)
        return f"{self.series}: {self.missing} {what} missing in [{start}, {end}) ({self.path})"


class CorpusGapWarning(UserWarning):
    """Issued for a :class:`Gap` when the caller passed no list to collect gaps in."""

    def __init__(self, gap: Gap) -> None:
        self.gap = gap
        super().__init__(str(gap))


def report_gap(gap: Gap, gaps: list[Gap] | None) -> None:
    """Append ``gap`` to the caller's ``gaps``, or warn with :class:`CorpusGapWarning`."""
    if gaps is None:
        warnings.warn(CorpusGapWarning(gap), stacklevel=3)
    else:
        gaps.append(gap)


def _iso_us(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

"""Where each file of a corpus lives, and what a corpus holds.

The directory layout is a contract shared with the live recorder::

    <root>/binance/data/spot/daily/klines/<SYM>/<interval>/<SYM>-<interval>-<YYYY-MM-DD>.zip
    <root>/binance/data/spot/daily/klines/.../<same>.zip.CHECKSUM
    <root>/binance/data/spot/daily/aggTrades/<SYM>/<SYM>-aggTrades-<YYYY-MM-DD>.zip  (optional)
    <root>/polymarket/gamma/markets/<slug>.json
    <root>/polymarket/clob/book-top/<series>-<YYYY-MM-DD>.csv.gz
    <root>/polymarket/clob/prices-history/<series>-<YYYY-MM-DD>.zip                   (optional)

The Binance part mirrors the paths of data.binance.vision under ``binance/``, so a download
of the public dump drops in unchanged. Days are UTC calendar days. This module only builds and
lists paths; it opens no file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from engine.core.validation import ConfigError

CHECKSUM_SUFFIX = ".CHECKSUM"
_DAY = r"(?P<day>\d{4}-\d{2}-\d{2})"
_KLINE_NAME = re.compile(rf"^(?P<symbol>[A-Z0-9]+)-(?P<interval>\d+[smhd])-{_DAY}\.zip$")
_AGG_NAME = re.compile(rf"^(?P<symbol>[A-Z0-9]+)-aggTrades-{_DAY}\.zip$")
_SERIES_NAME = re.compile(rf"^(?P<series>.+)-{_DAY}\.(?P<ext>csv\.gz|zip)$")


def utc_day(ts: float) -> date:
    """The UTC day of epoch second ``ts``."""
    return datetime.fromtimestamp(ts, tz=UTC).date()


def iso_z(ts: float) -> str:
    """Epoch second ``ts`` as ``2026-05-04T00:05:00Z``."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


INSTANT_FORMS = "an ISO UTC time (2026-03-12T09:20:00Z), a day (2026-03-12) or epoch seconds"


def parse_instant(name: str, value: object) -> float | None:
    """Epoch seconds of ``value``: None, epoch seconds (a number or digits), a day (its
    midnight) or an ISO UTC time; :class:`ConfigError` naming ``name`` otherwise."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        value = value.isoformat()
    text = str(value).strip()
    if text.isdigit():
        return float(text)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(name, value, f"must be {INSTANT_FORMS}") from None
    if dt.tzinfo is None or dt.utcoffset() != timedelta(0):
        raise ConfigError(name, value, f"must be {INSTANT_FORMS} (UTC)")
    return dt.timestamp()


def parse_day(text: str) -> date:
    """``"2026-03-12"`` as a date (the layout's day format)."""
    return date.fromisoformat(text)


def day_start_us(day: date) -> int:
    """Epoch microseconds of ``day``'s UTC midnight."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000


def days_between(start: date, end: date) -> Iterator[date]:
    """Every day from ``start`` to ``end``, both included."""
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


@dataclass(frozen=True, slots=True)
class KlineName:
    """What a kline dump's file name says: ``<SYM>-<interval>-<YYYY-MM-DD>.zip``."""

    symbol: str
    interval: str
    day: date


@dataclass(frozen=True, slots=True)
class AggTradesName:
    """What an aggTrades dump's file name says: ``<SYM>-aggTrades-<YYYY-MM-DD>.zip``."""

    symbol: str
    day: date


@dataclass(frozen=True, slots=True)
class SeriesName:
    """What a Polymarket day file's name says: ``<series>-<YYYY-MM-DD>.<ext>``."""

    series: str
    day: date


def parse_kline_name(path: Path) -> KlineName | None:
    """The symbol, interval and day of a kline dump ``path``, or None if it is not one."""
    m = _KLINE_NAME.match(Path(path).name)
    return KlineName(m["symbol"], m["interval"], parse_day(m["day"])) if m else None


def parse_aggtrades_name(path: Path) -> AggTradesName | None:
    """The symbol and day of an aggTrades dump ``path``, or None if it is not one."""
    m = _AGG_NAME.match(Path(path).name)
    return AggTradesName(m["symbol"], parse_day(m["day"])) if m else None


def parse_series_name(path: Path) -> SeriesName | None:
    """The series and day of a book-top or prices-history file, or None if it is not one."""
    m = _SERIES_NAME.match(Path(path).name)
    return SeriesName(m["series"], parse_day(m["day"])) if m else None


def checksum_path(path: Path) -> Path:
    """The ``.CHECKSUM`` file published next to a dump zip."""
    path = Path(path)
    return path.with_name(path.name + CHECKSUM_SUFFIX)


@dataclass(frozen=True, slots=True)
class CorpusLayout:
    """The paths of a corpus rooted at ``root``, and listings of what it holds.

    Listings are sorted (symbols and slugs by name, days by date) and skip files whose names
    do not follow the layout, so stray files do not break a scan.
    """

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # -- directories ---------------------------------------------------------------------
    @property
    def binance_spot_daily(self) -> Path:
        return self.root / "binance" / "data" / "spot" / "daily"

    @property
    def gamma_markets_dir(self) -> Path:
        return self.root / "polymarket" / "gamma" / "markets"

    @property
    def booktop_dir(self) -> Path:
        return self.root / "polymarket" / "clob" / "book-top"

    @property
    def prices_history_dir(self) -> Path:
        return self.root / "polymarket" / "clob" / "prices-history"

    # -- file paths ----------------------------------------------------------------------
    def kline_path(self, symbol: str, interval: str, day: date) -> Path:
        name = f"{symbol}-{interval}-{day.isoformat()}.zip"
        return self.binance_spot_daily / "klines" / symbol / interval / name

    def aggtrades_path(self, symbol: str, day: date) -> Path:
        name = f"{symbol}-aggTrades-{day.isoformat()}.zip"
        return self.binance_spot_daily / "aggTrades" / symbol / name

    def market_path(self, slug: str) -> Path:
        return self.gamma_markets_dir / f"{slug}.json"

    def booktop_path(self, series: str, day: date) -> Path:
        return self.booktop_dir / f"{series}-{day.isoformat()}.csv.gz"

    def prices_history_path(self, series: str, day: date) -> Path:
        return self.prices_history_dir / f"{series}-{day.isoformat()}.zip"

    # -- listings ------------------------------------------------------------------------
    def kline_symbols(self) -> list[str]:
        return _subdirs(self.binance_spot_daily / "klines")

    def kline_intervals(self, symbol: str) -> list[str]:
        return _subdirs(self.binance_spot_daily / "klines" / symbol)

    def kline_days(self, symbol: str, interval: str) -> list[date]:
        folder = self.binance_spot_daily / "klines" / symbol / interval
        names = (parse_kline_name(p) for p in _files(folder, "*.zip"))
        return sorted(n.day for n in names if n and (n.symbol, n.interval) == (symbol, interval))

    def aggtrades_symbols(self) -> list[str]:
        return _subdirs(self.binance_spot_daily / "aggTrades")

    def aggtrades_days(self, symbol: str) -> list[date]:
        folder = self.binance_spot_daily / "aggTrades" / symbol
        names = (parse_aggtrades_name(p) for p in _files(folder, "*.zip"))
        return sorted(n.day for n in names if n and n.symbol == symbol)

    def market_slugs(self) -> list[str]:
        return sorted(p.stem for p in _files(self.gamma_markets_dir, "*.json"))

    def booktop_series(self) -> list[str]:
        return _series(self.booktop_dir, "*.csv.gz")

    def booktop_days(self, series: str) -> list[date]:
        return _series_days(self.booktop_dir, "*.csv.gz", series)

    def prices_history_series(self) -> list[str]:
        return _series(self.prices_history_dir, "*.zip")

    def prices_history_days(self, series: str) -> list[date]:
        return _series_days(self.prices_history_dir, "*.zip", series)


def _subdirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file()) if folder.is_dir() else []


def _series(folder: Path, pattern: str) -> list[str]:
    names = (parse_series_name(p) for p in _files(folder, pattern))
    return sorted({n.series for n in names if n})


def _series_days(folder: Path, pattern: str, series: str) -> list[date]:
    names = (parse_series_name(p) for p in _files(folder, pattern))
    return sorted(n.day for n in names if n and n.series == series)

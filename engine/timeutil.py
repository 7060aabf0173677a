"""Conversions between epoch seconds (the core's clock) and aware UTC datetimes (storage)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from engine.core.validation import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def to_dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def from_dt(dt: datetime) -> float:
    """Epoch seconds; naive datetimes (SQLite returns those) are taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def iso(ts: float) -> str:
    return to_dt(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(field: str, value: object) -> float:
    """Seconds from ``90``, ``"90s"``, ``"30m"``, ``"2h"`` or ``"1d"``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ConfigError(field, value, "must be a duration like 90, 90s, 30m, 2h or 1d")
        seconds = float(m.group(1)) * _UNIT[m.group(2)]
    if seconds <= 0:
        raise ConfigError(field, value, "must be > 0")
    return seconds

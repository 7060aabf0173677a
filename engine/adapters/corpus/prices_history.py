"""Polymarket CLOB ``/prices-history`` series: ``<series>-<YYYY-MM-DD>.zip`` of ``<token_id>.json``.

Each member is the API's answer for one token, ``{"history": [{"t": <epoch s>, "p": <price>}]}``.

This is a **coarse** series (the API samples it at minutes, not at every book change) for marks
and plots only. It is never a source of fills: a backtest fills against the recorded top of
book (:mod:`engine.adapters.corpus.booktop`) or not at all.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.adapters.corpus.errors import CorpusError

_MEMBER = re.compile(r"^(?P<token>\d+)\.json$")
_S_RANGE = (946_684_800, 4_102_444_800)  # epoch seconds, 2000-01-01 to 2100-01-01


@dataclass(frozen=True, slots=True, eq=False)
class PriceHistory:
    """One token's coarse price series: ``t`` epoch seconds (``int64``), ``p`` in [0, 1].

    For marks and plots only, never for fills (see the module docstring).
    """

    token_id: str
    t: np.ndarray
    p: np.ndarray
    path: Path

    def __len__(self) -> int:
        return len(self.t)


def read_prices_history(path: Path) -> Iterator[PriceHistory]:
    """One :class:`PriceHistory` per member of a prices-history zip, in member-name order.

    Members are read one at a time. Raises :class:`CorpusError` for a corrupt zip, a member
    not named ``<token_id>.json``, or a point whose ``t`` is not epoch seconds in time order or
    whose ``p`` is not a price in [0, 1].
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            for name in sorted(m.filename for m in zf.infolist() if not m.is_dir()):
                m = _MEMBER.match(name)
                if not m:
                    raise CorpusError(path, "zip member", name, "<token_id>.json")
                yield _parse_member(path, name, m["token"], zf.read(name))
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise CorpusError(path, "", f"{type(exc).__name__}: {exc}", "a readable zip") from None


def _parse_member(path: Path, name: str, token: str, data: bytes) -> PriceHistory:
    try:
        obj = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(path, f"member {name}", str(exc), "valid JSON") from None
    history = obj.get("history") if isinstance(obj, dict) else None
    if not isinstance(history, list):
        raise CorpusError(
            path, f"member {name}", type(obj).__name__, 'an object {"history": [...]}'
        )
    t = np.empty(len(history), dtype=np.int64)
    p = np.empty(len(history), dtype=np.float64)
    last = -1
    for i, point in enumerate(history):
        where = f"member {name}, history[{i}]"
        ts = point.get("t") if isinstance(point, dict) else None
        price = point.get("p") if isinstance(point, dict) else None
        if isinstance(ts, bool) or not isinstance(ts, int) or not _S_RANGE[0] <= ts < _S_RANGE[1]:
            raise CorpusError(path, f"{where}.t", ts, "epoch seconds (10 digits)")
        if ts < last:
            raise CorpusError(path, f"{where}.t", ts, f"t >= {last} (points in time order)")
        if isinstance(price, bool) or not isinstance(price, int | float | str):
            raise CorpusError(path, f"{where}.p", price, "a price in [0, 1]")
        try:
            x = float(price)
        except ValueError:
            x = math.nan
        if not 0.0 <= x <= 1.0:
            raise CorpusError(path, f"{where}.p", price, "a price in [0, 1]")
        t[i], p[i], last = ts, x, ts
    return PriceHistory(token_id=token, t=t, p=p, path=path)

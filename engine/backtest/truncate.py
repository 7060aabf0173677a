"""A corpus as it stood at a cut time: only what a replay ending at the cut could have known.

:func:`truncate_corpus` writes a copy of a corpus (``docs/corpus.md``) cut at epoch second
``cut``:

- **klines**: the bars that have *closed* by the cut (open + interval <= cut), the replay's own
  rule for when a close is known. Days wholly before the cut are copied byte for byte (their
  ``.CHECKSUM`` still holds); the cut's day is re-zipped without the later bars and given a
  fresh ``.CHECKSUM`` (after the original's is verified, when it has one); days after it are
  dropped.
- **book-top**: the rows at or before the cut (``ts`` <= cut in ms), again copying earlier days,
  rewriting the cut's day and dropping later ones.
- **Gamma markets**: a market whose window starts after the cut is removed (not listed yet); one
  whose window ends after the cut is rewritten as unresolved (``closed: false``,
  ``outcomePrices`` ``["0.5","0.5"]``, ``closedTime`` and the UMA status removed): its outcome
  was not known yet. The others are copied unchanged.
- aggTrades and prices-history dumps are left out: the replay reads neither, and a copy that
  holds nothing from after the cut must not keep them whole.

A market ending exactly at the cut keeps its outcome and one starting exactly at it stays: the
replay resolves and lists them at the cut's own tick, which both corpora show alike.
"""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from engine.adapters.corpus.binance import (
    interval_seconds,
    time_unit,
    verify_checksum,
    write_checksum,
)
from engine.adapters.corpus.booktop import HEADER_LINE
from engine.adapters.corpus.errors import CorpusError
from engine.adapters.corpus.gamma import read_market
from engine.adapters.corpus.layout import CorpusLayout, checksum_path, day_start_us

_US = 1_000_000
_DAY_S = 86_400
_UNRESOLVED_PRICES = ["0.5", "0.5"]
# Fields a Gamma object only has once its market closed: gone from a market open at the cut.
_CLOSE_FIELDS = ("closedTime", "umaResolutionStatus", "umaResolutionStatuses")


@dataclass
class TruncateSummary:
    """What :func:`truncate_corpus` did, file by file kind (counts)."""

    cut: int
    klines_copied: int = 0
    klines_cut: int = 0
    klines_dropped: int = 0
    booktop_copied: int = 0
    booktop_cut: int = 0
    booktop_dropped: int = 0
    markets_copied: int = 0
    markets_unresolved: list[str] = field(default_factory=list)
    markets_removed: list[str] = field(default_factory=list)


def truncate_corpus(src: Path | str, dst: Path | str, cut: int) -> TruncateSummary:
    """Write the corpus ``src`` as known at epoch second ``cut`` into ``dst`` (new or empty).

    Raises :class:`~engine.adapters.corpus.errors.CorpusError` for a file of ``src`` that does
    not follow the layout's rules (a bad checksum, a zip without its one CSV, bad Gamma JSON),
    and ``FileExistsError`` when ``dst`` is not empty.
    """
    source, target = CorpusLayout(Path(src)), CorpusLayout(Path(dst))
    if target.root.exists() and any(target.root.iterdir()):
        raise FileExistsError(f"{target.root}: expected a new or empty directory")
    target.root.mkdir(parents=True, exist_ok=True)
    summary = TruncateSummary(cut=int(cut))
    _klines(source, target, summary)
    _booktops(source, target, summary)
    _markets(source, target, summary)
    return summary


# -- klines ----------------------------------------------------------------------------------
def _klines(source: CorpusLayout, target: CorpusLayout, summary: TruncateSummary) -> None:
    cut = summary.cut
    for symbol in source.kline_symbols():
        for interval in source.kline_intervals(symbol):
            try:
                step = interval_seconds(interval)
            except ValueError:
                continue  # not a daily-dump interval: no replay reads it
            for day in source.kline_days(symbol, interval):
                path = source.kline_path(symbol, interval, day)
                out = target.kline_path(symbol, interval, day)
                start = day_start_us(day) // _US
                if start + step > cut:  # not even the day's first bar has closed
                    summary.klines_dropped += 1
                elif start + _DAY_S <= cut:  # the day's last bar closed by the cut
                    _copy(path, out)
                    if checksum_path(path).is_file():
                        _copy(checksum_path(path), checksum_path(out))
                    summary.klines_copied += 1
                elif _cut_kline_file(path, out, (cut - step) * _US):
                    summary.klines_cut += 1
                else:
                    summary.klines_dropped += 1


def _cut_kline_file(path: Path, out: Path, last_open_us: int) -> bool:
    """Re-zip ``path`` into ``out`` keeping the bars opening at or before ``last_open_us``
    (and a header row); False (nothing written) when no bar is left. The original is checked
    against its ``.CHECKSUM`` when it has one (the replay refuses a dump without one unless
    ``feed.verify=false``); the copy always gets a fresh one."""
    if checksum_path(path).is_file():
        verify_checksum(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) != 1 or not members[0].filename.endswith(".csv"):
                names = [m.filename for m in members]
                raise CorpusError(path, "zip members", names, "exactly one .csv file")
            member = members[0].filename
            text = zf.read(member).decode("ascii")
    except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError) as exc:
        raise CorpusError(path, "", f"{type(exc).__name__}: {exc}", "a readable zip") from None
    kept, bars = [], 0
    for n, line in enumerate(text.splitlines(keepends=True), start=1):
        first = line.split(",", 1)[0].strip()
        if not first.isdigit():
            if line.strip():
                kept.append(line)  # the header row (the reader checks it)
            continue
        t = int(first)
        unit = time_unit(t)
        if unit is None:
            raise CorpusError(path, f"line {n}, column open_time", first, "epoch ms or µs")
        t_us = t * 1000 if unit == "ms" else t
        if t_us <= last_open_us:
            kept.append(line)
            bars += 1
    if not bars:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, "".join(kept))
    write_checksum(out)
    return True


# -- book-top --------------------------------------------------------------------------------
def _booktops(source: CorpusLayout, target: CorpusLayout, summary: TruncateSummary) -> None:
    cut_ms = summary.cut * 1000
    for series in source.booktop_series():
        for day in source.booktop_days(series):
            path, out = source.booktop_path(series, day), target.booktop_path(series, day)
            start_ms = day_start_us(day) // 1000
            if start_ms > cut_ms:
                summary.booktop_dropped += 1
            elif start_ms + _DAY_S * 1000 <= cut_ms:
                _copy(path, out)
                summary.booktop_copied += 1
            else:
                _cut_booktop_file(path, out, cut_ms)
                summary.booktop_cut += 1


def _cut_booktop_file(path: Path, out: Path, cut_ms: int) -> None:
    """Rewrite ``path`` into ``out`` with its rows at or before ``cut_ms`` (the lines as they
    were: the reader checks them as it would the original's)."""
    try:
        with gzip.open(path, "rt", encoding="ascii", newline="") as text:
            header = text.readline()
            if header.strip() != HEADER_LINE:
                raise CorpusError(path, "line 1", header.strip(), HEADER_LINE)
            kept = []
            for line in text:
                ts = line.split(",", 1)[0]
                if ts.isdigit() and int(ts) > cut_ms:
                    break  # rows are in time order (the reader enforces it)
                kept.append(line)
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        raise CorpusError(path, "", f"{type(exc).__name__}: {exc}", "a readable .csv.gz") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "xb") as raw, gzip.GzipFile("", "wb", 6, raw, mtime=0) as gz:
        gz.write((HEADER_LINE + "\n" + "".join(kept)).encode("ascii"))


# -- Gamma markets ---------------------------------------------------------------------------
def _markets(source: CorpusLayout, target: CorpusLayout, summary: TruncateSummary) -> None:
    cut = summary.cut
    for slug in source.market_slugs():
        path, out = source.market_path(slug), target.market_path(slug)
        market = read_market(path)  # raises CorpusError naming the file and field
        if market.strike_ts is not None and market.strike_ts > cut:
            summary.markets_removed.append(slug)
        elif market.expiry_ts > cut:
            obj = json.loads(path.read_text(encoding="utf-8"))
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(_unresolved(obj), indent=1) + "\n", encoding="utf-8")
            summary.markets_unresolved.append(slug)
        else:
            _copy(path, out)
            summary.markets_copied += 1


def _unresolved(obj: dict) -> dict:
    """The Gamma object of a market still open: not closed, no settled prices."""
    obj = dict(obj)
    obj["closed"] = False
    obj["active"] = True
    prices = obj.get("outcomePrices")
    # The same encoding as the original: Gamma sends a JSON string, other endpoints an array.
    obj["outcomePrices"] = (
        list(_UNRESOLVED_PRICES) if isinstance(prices, list) else json.dumps(_UNRESOLVED_PRICES)
    )
    for name in _CLOSE_FIELDS:
        obj.pop(name, None)
    if isinstance(obj.get("events"), list):
        obj["events"] = [
            {**e, "closed": False} if isinstance(e, dict) else e for e in obj["events"]
        ]
    return obj


def _copy(path: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, out)

"""A synthetic corpus in the real layout: known truth, for tests and benchmarks of the backtest.

Spot is a driftless geometric Brownian motion per symbol (one Binance 1 s kline per second,
times in microseconds as the 2025+ spot dumps have them, each day zipped with its
``.CHECKSUM``); back-to-back Up/Down windows per symbol (Gamma market JSON with the outcome the
path gave: Up when the close at the window's end is at or above the close at its start); and a
top of book per token every second of each window (``dedupe`` off: the recorder's
once-a-second rows even when nothing changed).

The book is quoted from the **true** probability of Up under the generating process,
``N(d2)`` with the true volatility, as one tick either side of it (the Down token mirrors the
Up token). So:

- ``edge_share=0``: the quotes equal the truth; buying the ask pays the half spread plus the
  fee, and no strategy can have an edge (the no-edge corpus);
- ``edge_share>0``: in that share of windows (drawn with the seed) the quotes are ``lag_s``
  seconds stale (the probability of ``lag_s`` seconds ago): a planted, known edge after fast
  moves, the one Up/Down Capture is built to take.

``python -m engine.adapters.corpus.synthetic OUT --days 3 --symbols BTCUSDT ETHUSDT`` writes
one; ``docs/corpus.md`` describes the options.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from scipy.special import ndtr

from engine.adapters.corpus.binance import write_checksum
from engine.adapters.corpus.booktop import HEADER_LINE
from engine.adapters.corpus.layout import CorpusLayout
from engine.adapters.corpus.writers import decimal_token, gamma_market
from engine.core.types import DOWN, UP

_YEAR_S = 365.0 * 86_400.0
_DAY_S = 86_400
_US = 1_000_000
_SPOT0 = {"BTCUSDT": 97_000.0, "ETHUSDT": 3_400.0, "SOLUSDT": 190.0, "XRPUSDT": 2.4}
_WINDOW_NAMES = {300: "5m", 900: "15m", 3600: "1h"}


@dataclass(frozen=True)
class SyntheticCorpus:
    """What to generate (see the module). ``vol`` is the annualized volatility of every
    symbol; ``spread_ticks`` the quoted spread around the probability; ``size`` the mean
    shares at each top (sizes vary ±50 % with the seed); ``fee_rate`` the market's
    ``feeSchedule.rate`` (None: no schedule, the crypto default applies; 0: fees off)."""

    start: date = date(2026, 5, 4)
    days: int = 1
    symbols: Sequence[str] = ("BTCUSDT",)
    window_s: int = 300
    vol: float = 0.5
    tick: float = 0.01
    spread_ticks: int = 2
    size: float = 200.0
    fee_rate: float | None = None
    edge_share: float = 0.0
    lag_s: int = 30
    seed: int = 0
    hours: float | None = None  # only the first hours (small test corpora; days must be 1)
    edge_windows: list[str] = field(default_factory=list, init=False, compare=False)

    def __post_init__(self) -> None:
        if self.window_s not in _WINDOW_NAMES:
            raise ValueError(f"window_s={self.window_s}: expected one of {sorted(_WINDOW_NAMES)}")
        for sym in self.symbols:
            if sym not in _SPOT0:
                raise ValueError(f"symbols: {sym!r} is not one of {sorted(_SPOT0)}")
        if not 0.0 <= self.edge_share <= 1.0:
            raise ValueError(f"edge_share={self.edge_share}: expected 0 <= edge_share <= 1")
        if self.hours is not None and self.days != 1:
            raise ValueError(f"hours={self.hours}: only with days=1 (days={self.days})")
        if self.days < 1:
            raise ValueError(f"days={self.days}: expected at least 1")
        if not 0 < self.vol < 5:
            raise ValueError(f"vol={self.vol}: expected 0 < vol < 5 (annualized)")

    @property
    def seconds_per_day(self) -> int:
        if self.hours is None:
            return _DAY_S
        return int(round(self.hours * 3600 / self.window_s)) * self.window_s

    def write(self, root: Path) -> CorpusLayout:
        """Write the corpus under ``root`` (created; refuses to write into a non-empty one)."""
        root = Path(root)
        if root.exists() and any(root.iterdir()):
            raise FileExistsError(f"{root}: expected a new or empty directory for the corpus")
        layout = CorpusLayout(root)
        rng = np.random.default_rng(self.seed)
        sigma_s = self.vol / math.sqrt(_YEAR_S)
        for sym in self.symbols:
            spot, before = _SPOT0[sym], math.nan
            for d in range(self.days):
                day = self.start + timedelta(days=d)
                closes = self._day_path(rng, spot, sigma_s)
                self._write_klines(layout, sym, day, closes)
                self._write_markets(layout, rng, sym, day, before, closes, sigma_s)
                spot = before = float(closes[-1])
        return layout

    # -- spot ------------------------------------------------------------------------------
    def _day_path(self, rng: np.random.Generator, spot0: float, sigma_s: float) -> np.ndarray:
        """Closes of the day's 1 s bars (bar i opens at second i, closes at i + 1)."""
        n = self.seconds_per_day
        steps = rng.normal(-0.5 * sigma_s**2, sigma_s, n)
        return np.round(spot0 * np.exp(np.cumsum(steps)), 2)

    def _write_klines(self, layout: CorpusLayout, sym: str, day: date, closes: np.ndarray) -> None:
        t0 = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * _US
        n = len(closes)
        opens = np.concatenate([[closes[0]], closes[:-1]])
        high = np.maximum(opens, closes)
        low = np.minimum(opens, closes)
        open_us = t0 + np.arange(n, dtype=np.int64) * _US
        lines = [
            f"{t},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},1.5,{t + 999_999},{c * 1.5:.4f},12,0.7,"
            f"{c * 0.7:.4f},0\n"
            for t, o, h, lo, c in zip(
                open_us.tolist(),
                opens.tolist(),
                high.tolist(),
                low.tolist(),
                closes.tolist(),
                strict=True,
            )
        ]
        path = layout.kline_path(sym, "1s", day)
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(path.name[: -len(".zip")] + ".csv", "".join(lines))
        write_checksum(path)

    # -- markets and books -----------------------------------------------------------------
    def _write_markets(
        self,
        layout: CorpusLayout,
        rng: np.random.Generator,
        sym: str,
        day: date,
        before: float,
        closes: np.ndarray,
        sigma_s: float,
    ) -> None:
        day0 = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        w = self.window_s
        coin = sym.removesuffix("USDT").lower()
        series = f"{coin}-updown-{_WINDOW_NAMES[w]}"
        # spot(s) for the seconds of the day: the close of the bar closing at s (at midnight:
        # the previous day's last bar; none on the first day).
        spot_at = np.concatenate([[before], closes])
        rows: list[str] = []
        for k in range(len(closes) // w):
            start = k * w
            if start == 0 and before != before:
                continue  # no bar closes at the corpus's first midnight: not listed
            end = start + w
            if end >= len(spot_at):
                break
            strike, final = spot_at[start], spot_at[end]
            slug = f"{series}-{day0 + start}"
            up, down = decimal_token(f"{slug}:up"), decimal_token(f"{slug}:down")
            lagged = rng.random() < self.edge_share
            if lagged:
                self.edge_windows.append(slug)
            secs = np.arange(start, end)
            seen = np.maximum(secs - self.lag_s, start) if lagged else secs
            tau = (end - seen).astype(float)
            with np.errstate(divide="ignore"):
                d2 = (np.log(spot_at[seen] / strike) - 0.5 * sigma_s**2 * tau) / (
                    sigma_s * np.sqrt(tau)
                )
            p_up = ndtr(d2)
            bid, ask = self._quotes(p_up)
            sizes = np.round(self.size * (0.5 + rng.random((len(secs), 2))))
            ts_ms = (day0 + secs) * 1000
            for j in range(len(secs)):
                b, a = bid[j], ask[j]
                bs, asz = sizes[j]
                rows.append(f"{ts_ms[j]},{up},{_px(b)},{_px(a)},{_sz(b, bs)},{_sz(a, asz)}\n")
                db, da = _mirror(a), _mirror(b)
                rows.append(f"{ts_ms[j]},{down},{_px(db)},{_px(da)},{_sz(db, asz)},{_sz(da, bs)}\n")
            self._write_market(layout, slug, day0 + start, day0 + end, up, down, final >= strike)
        path = layout.booktop_path(series, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as raw, gzip.GzipFile("", "wb", 6, raw, mtime=0) as gz:
            gz.write((HEADER_LINE + "\n" + "".join(rows)).encode("ascii"))

    def _quotes(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bid and ask of the Up token around ``p`` (NaN: an empty side at the price bounds)."""
        tick, n = self.tick, self.spread_ticks
        bid_ticks = np.round(p / tick - n / 2.0)
        bid = np.round(bid_ticks * tick, 6)
        ask = np.round((bid_ticks + n) * tick, 6)
        bid = np.where(bid >= tick - 1e-12, np.round(bid, 6), np.nan)
        ask = np.where(ask <= 1 - tick + 1e-12, np.round(ask, 6), np.nan)
        return bid, ask

    def _write_market(
        self, layout: CorpusLayout, slug: str, start: int, end: int, up: str, down: str, won: bool
    ) -> None:
        obj = gamma_market(
            slug=slug,
            symbol=slug.split("-")[0].upper() + "USDT",
            start_ts=start,
            end_ts=end,
            up_token=up,
            down_token=down,
            fee_rate=self.fee_rate,
            winner=UP if won else DOWN,
            source="synthetic corpus",
            tick=self.tick,
        )
        path = layout.market_path(slug)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")


def _mirror(x: float) -> float:
    return round(1.0 - x, 6) if x == x else math.nan


def _px(x: float) -> str:
    return "" if x != x else f"{x:g}"


def _sz(price: float, size: float) -> str:
    return "" if price != price else f"{size:g}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m engine.adapters.corpus.synthetic",
        description="Write a synthetic corpus (known truth) in the backtest corpus layout.",
    )
    p.add_argument("out", type=Path, help="a new (or empty) directory")
    p.add_argument("--start", type=date.fromisoformat, default=SyntheticCorpus.start)
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--hours", type=float, default=None, help="only the first hours of each day")
    p.add_argument("--symbols", nargs="+", default=["BTCUSDT"])
    p.add_argument("--window-s", type=int, default=300)
    p.add_argument("--vol", type=float, default=0.5, help="annualized volatility")
    p.add_argument("--edge-share", type=float, default=0.0, help="share of lagged windows")
    p.add_argument("--lag-s", type=int, default=30, help="staleness of a lagged window's quotes")
    p.add_argument("--fee-rate", type=float, default=None, help="feeSchedule.rate (0: fees off)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        spec = SyntheticCorpus(
            start=args.start,
            days=args.days,
            hours=args.hours,
            symbols=tuple(args.symbols),
            window_s=args.window_s,
            vol=args.vol,
            edge_share=args.edge_share,
            lag_s=args.lag_s,
            fee_rate=args.fee_rate,
            seed=args.seed,
        )
        spec.write(args.out)
    except (ValueError, FileExistsError) as exc:
        print(f"synthetic corpus: {exc}", file=sys.stderr)
        return 2
    print(
        f"{args.out}: {len(spec.symbols)} symbols x {spec.days} days, "
        f"{len(spec.edge_windows)} lagged windows"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The embedded market simulator: seeded spot paths and back-to-back Up/Down markets.

Every call to :meth:`MarketSimulator.step` moves the clock one second and returns
what a live feed would show at that second and nothing later: spot, markets
whose window opens now, every live token's book, and markets that end now.
Randomness is drawn from one ``numpy`` Generator one step at a time, so a tick
is the same whether or not the simulation runs further.

Market makers quote the UP token at ``N(d2)`` from the spot they saw
``mm_lag_s`` seconds ago (a plain delay, not smoothing), with their own vol
``mm_vol`` and Gaussian noise ``mm_noise``; the DOWN book is the UP book's mirror.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from engine.core.types import DOWN, UP, Book, Market, Resolution, SimTick
from engine.sim.books import SECONDS_PER_YEAR, build_ladders, level_sizes, updown_fair_value
from engine.sim.spot import SpotProcess

DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
DEFAULT_PRICES = {"BTCUSDT": 95_000.0, "ETHUSDT": 3_300.0, "SOLUSDT": 190.0}


def _check(name: str, value: float, lo: float, hi: float, *, lo_open: bool = False) -> None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    ok = (lo < x if lo_open else lo <= x) and x <= hi
    if not ok:
        left = "(" if lo_open else "["
        raise ValueError(f"sim.{name}={value!r} must be in {left}{_fmt(lo)}, {_fmt(hi)}]")


def _whole(name: str, value: int, lo: int, hi: int) -> int:
    try:
        ok = not isinstance(value, bool) and float(value).is_integer() and lo <= value <= hi
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"sim.{name}={value!r} must be a whole number in [{lo}, {hi}]")
    return int(value)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def window_label(window_s: int) -> str:
    """``300`` -> ``"5m"``, ``3600`` -> ``"1h"`` (the slug's window part)."""
    return f"{window_s // 3600}h" if window_s % 3600 == 0 else f"{window_s // 60}m"


def _short(symbol: str) -> str:
    s = symbol.lower()
    return s[:-4] if s.endswith("usdt") and len(s) > 4 else s


def _parse_start(start: str) -> int:
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


class _State:
    """Everything that changes as the clock runs (the config fields never do)."""

    __slots__ = (
        "rng",
        "spot",
        "n",
        "hist",
        "start_ts",
        "sym_idx",
        "strike",
        "end_ts",
        "markets",
        "token_ids",
        "sizes",
        "prefix",
    )


@dataclass(frozen=True, eq=False, kw_only=True)
class MarketSimulator:
    """Seeded simulator of spot and of back-to-back Up/Down markets per symbol and window.

    The fields are exactly ``conf/sim/*.yaml``'s keys. ``vol``, ``drift`` and
    ``mm_vol`` are annualised; ``jump_std`` is the stdev of a log jump; ``chop``
    is the per-second shock of a mean-reverting term relative to the trend's
    (0 = pure GBM) and ``chop_half_life_s`` its half-life; ``vol_regime_switch``
    is the probability per hour of switching between ``vol`` and
    ``vol * vol_high_mult``. ``mm_lag_s``: market makers price from spot this
    many seconds old. ``mm_noise``: stdev of the noise on their UP mid
    (probability units). ``level_size``: shares at the best level, level i holds
    ``(1 + i)`` times that. ``speed``: sim seconds per wall second, or ``"max"``;
    the drivers pace by it, the simulator never sleeps. ``mm_vol=None`` means
    ``vol``.
    """

    seed: int
    symbols: Sequence[str] = DEFAULT_SYMBOLS
    start: str = "2026-01-05T00:00:00Z"
    windows: Sequence[int] = (300, 900)
    initial_prices: Mapping[str, float] | None = None
    vol: float = 0.45
    drift: float = 0.0
    jump_rate_per_day: float = 1.0
    jump_std: float = 0.002
    chop: float = 0.0
    chop_half_life_s: float = 30.0
    vol_regime_switch: float = 0.0
    vol_high_mult: float = 2.0
    mm_lag_s: int = 5
    mm_noise: float = 0.01
    mm_vol: float | None = None
    half_spread: float = 0.01
    levels: int = 5
    level_size: float = 100.0
    fee_rate: float = 0.07
    speed: float | str = 1.0
    _state: _State = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._validate()
        st = _State()
        st.rng = np.random.default_rng(self.seed)
        n_sym, n_win = len(self.symbols), len(self.windows)
        initial = np.array([self.initial_prices[s] for s in self.symbols], dtype=float)
        st.spot = SpotProcess(
            initial,
            vol=self.vol,
            drift=self.drift,
            jump_rate_per_day=self.jump_rate_per_day,
            jump_std=self.jump_std,
            chop=self.chop,
            chop_half_life_s=self.chop_half_life_s,
            vol_regime_switch=self.vol_regime_switch,
            vol_high_mult=self.vol_high_mult,
        )
        st.n = -1
        st.start_ts = _parse_start(self.start)
        st.hist = np.tile(initial, (self.mm_lag_s + 1, 1))
        # Market slots are window-major: slot w * n_sym + i is symbol i's window w.
        st.sym_idx = np.tile(np.arange(n_sym), n_win)
        st.strike = np.ones(n_sym * n_win)
        st.end_ts = np.zeros(n_sym * n_win)
        st.markets = [None] * (n_sym * n_win)
        st.token_ids = [""] * (2 * n_sym * n_win)
        st.sizes = level_sizes(self.levels, self.level_size)
        fields_ = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.init and f.name != "speed"
        }
        digest = hashlib.sha1(repr(sorted(fields_.items())).encode()).hexdigest()[:6]
        st.prefix = f"sim{self.seed}-{digest}-"
        object.__setattr__(self, "_state", st)

    def _validate(self) -> None:
        """Check every field; normalise containers to tuples/dicts and numbers to their types."""
        set_ = object.__setattr__
        seed_ok = isinstance(self.seed, numbers.Integral) and not isinstance(self.seed, bool)
        if not seed_ok or not 0 <= self.seed < 2**63:
            raise ValueError(f"sim.seed={self.seed!r} must be an int in [0, 2**63)")
        set_(self, "seed", int(self.seed))
        self._validate_calendar()
        _check("vol", self.vol, 0.0, 5.0)
        _check("drift", self.drift, -100.0, 100.0)
        _check("jump_rate_per_day", self.jump_rate_per_day, 0.0, 86400.0)
        _check("jump_std", self.jump_std, 0.0, 0.5)
        _check("chop", self.chop, 0.0, 10.0)
        _check("chop_half_life_s", self.chop_half_life_s, 1.0, 3600.0)
        _check("vol_regime_switch", self.vol_regime_switch, 0.0, 60.0)
        _check("vol_high_mult", self.vol_high_mult, 1.0, 10.0)
        set_(self, "mm_lag_s", _whole("mm_lag_s", self.mm_lag_s, 0, 600))
        _check("mm_noise", self.mm_noise, 0.0, 0.5)
        if self.mm_vol is None:
            if self.vol <= 0.0:
                raise ValueError(
                    f"sim.mm_vol=None defaults to sim.vol={self.vol!r}, must be in (0, 5]"
                )
            set_(self, "mm_vol", float(self.vol))
        _check("mm_vol", self.mm_vol, 0.0, 5.0, lo_open=True)
        _check("half_spread", self.half_spread, 0.0, 0.25, lo_open=True)
        set_(self, "levels", _whole("levels", self.levels, 1, 50))
        _check("level_size", self.level_size, 0.0, 1e9, lo_open=True)
        _check("fee_rate", self.fee_rate, 0.0, 0.25)
        if self.speed != "max":
            if isinstance(self.speed, str | bool):
                raise ValueError(
                    f"sim.speed={self.speed!r} must be 'max' or a number in (0, 1000000]"
                )
            _check("speed", self.speed, 0.0, 1e6, lo_open=True)
            set_(self, "speed", float(self.speed))

    def _validate_calendar(self) -> None:
        """Symbols, their initial prices, windows and the start time."""
        set_ = object.__setattr__
        if isinstance(self.symbols, str):
            raise ValueError(f"sim.symbols={self.symbols!r} must be a list of symbols")
        symbols = tuple(str(s) for s in self.symbols)
        if not symbols or len(set(symbols)) != len(symbols):
            raise ValueError(
                f"sim.symbols={list(symbols)!r} must be a non-empty list of distinct symbols"
            )
        set_(self, "symbols", symbols)
        windows = tuple(_whole("windows[]", w, 60, 86400) for w in self.windows)
        if not windows or len(set(windows)) != len(windows) or any(w % 60 for w in windows):
            raise ValueError(
                f"sim.windows={list(windows)!r} must be distinct multiples of 60 in [60, 86400]"
            )
        set_(self, "windows", windows)
        start_ts = _parse_start(self.start)
        for w in windows:
            if start_ts % w:
                raise ValueError(f"sim.start={self.start!r} must align to every window ({w} s)")
        prices = dict(DEFAULT_PRICES)
        prices.update({str(k): v for k, v in (self.initial_prices or {}).items()})
        for s in symbols:
            if s not in prices:
                raise ValueError(f"sim.initial_prices lacks {s!r}: give a price for every symbol")
            _check(f"initial_prices.{s}", prices[s], 0.0, 1e12, lo_open=True)
        set_(self, "initial_prices", {s: float(prices[s]) for s in symbols})

    @property
    def start_ts(self) -> float:
        """Epoch seconds of the first tick."""
        return float(self._state.start_ts)

    @property
    def market_prefix(self) -> str:
        """``sim<seed>-<fingerprint>-``: every market id of this simulator starts with it.

        The fingerprint hashes every field but ``speed``, so two runs share market
        ids (and a restart resumes) exactly when they simulate the same market.
        """
        return self._state.prefix

    @property
    def now(self) -> float:
        """Time of the last tick returned; ``start_ts - 1`` before the first :meth:`step`."""
        return self.start_ts + self._state.n

    def step(self) -> SimTick:
        """Advance the clock one second and return what a live feed shows at the new time."""
        st = self._state
        n_sym = len(self.symbols)
        n_mkt = st.strike.shape[0]
        z = st.rng.standard_normal(3 * n_sym + n_mkt)
        u = st.rng.random(n_sym + 1)
        st.n += 1
        ts = st.start_ts + st.n
        spot = st.spot.spot() if st.n == 0 else st.spot.advance(z[: 3 * n_sym], u)
        spot_list = spot.tolist()

        listed: list[Market] = []
        resolved: list[Resolution] = []
        for wi, w in enumerate(self.windows):
            if ts % w == 0:
                for slot in range(wi * n_sym, (wi + 1) * n_sym):
                    self._roll(slot, ts, spot_list, listed, resolved)

        size = self.mm_lag_s + 1
        st.hist[st.n % size] = spot
        lagged = st.hist[(st.n + 1) % size]  # the oldest row: spot mm_lag_s seconds ago
        remaining = (st.end_ts - ts) / SECONDS_PER_YEAR
        fair = updown_fair_value(lagged[st.sym_idx], st.strike, remaining, self.mm_vol)
        up_mid = np.clip(fair + self.mm_noise * z[3 * n_sym :], 0.001, 0.999)
        lad = build_ladders(up_mid, self.half_spread, st.sizes)

        books: dict[str, Book] = {}
        fts = float(ts)
        for k, (tid, nb, na, tick) in enumerate(
            zip(
                st.token_ids,
                lad.n_bids.tolist(),
                lad.n_asks.tolist(),
                lad.tick.tolist(),
                strict=True,
            )
        ):
            books[tid] = Book(tid, lad.bids[k, :nb], lad.asks[k, :na], fts, tick)
        spots = dict(zip(self.symbols, spot_list, strict=True))
        return SimTick(ts=fts, spot=spots, listed=listed, books=books, resolved=resolved)

    def _roll(
        self,
        slot: int,
        ts: int,
        spot: list[float],
        listed: list[Market],
        resolved: list[Resolution],
    ) -> None:
        """Resolve the market ending at ``ts`` in ``slot`` (if any) and list the next one."""
        st = self._state
        n_mkt = st.strike.shape[0]
        i = int(st.sym_idx[slot])
        s_now = spot[i]
        old = st.markets[slot]
        if old is not None:
            winner = UP if s_now >= old.strike else DOWN
            resolved.append(Resolution(old.market_id, winner, old.strike, s_now, float(ts)))
        w = self.windows[slot // len(self.symbols)]
        symbol = self.symbols[i]
        mid = f"{st.prefix}{_short(symbol)}-updown-{window_label(w)}-{ts}"
        market = Market(
            market_id=mid,
            symbol=symbol,
            window_s=w,
            start_ts=float(ts),
            end_ts=float(ts + w),
            strike=s_now,
            up_token=f"{mid}-up",
            down_token=f"{mid}-down",
            fee_rate=self.fee_rate,
        )
        st.markets[slot] = market
        st.strike[slot] = s_now
        st.end_ts[slot] = ts + w
        st.token_ids[slot] = market.up_token
        st.token_ids[n_mkt + slot] = market.down_token
        listed.append(market)

"""The embedded market simulator: seeded spot paths, Up/Down markets, range events and flows.

Every call to :meth:`MarketSimulator.step` moves the clock one second and returns
what a live feed would show at that second and nothing later: spot, markets
whose window opens now, every live token's book, markets that end now, leader
trades the wallet feed delivers now and headlines published now. Randomness is
drawn one step at a time (from a few ``numpy`` Generators seeded by ``seed``), so
a tick is the same whether or not the simulation runs further.

Market makers quote the UP token at ``N(d2)`` from the spot they saw
``mm_lag_s`` seconds ago (a plain delay, not smoothing), with their own vol
``mm_vol`` and Gaussian noise ``mm_noise``; the DOWN book is the UP book's mirror.
Range markets (:mod:`engine.sim.negrisk`) are quoted the same way at the
bucket's probability. Information events (:mod:`engine.sim.informed`) drift spot
and are revealed only by leader trades and headlines.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.core.types import DOWN, UP, Market, Resolution, Tick
from engine.sim.books import (
    SECONDS_PER_YEAR,
    build_ladders,
    level_sizes,
    publish_books,
    range_fair_value,
)
from engine.sim.common import parse_start, short_symbol, window_label
from engine.sim.informed import InformedFlow, Leader
from engine.sim.negrisk import HIGH_EDGE, LOW_EDGE, range_event, resolve_event
from engine.sim.spot import SpotProcess
from engine.sim.validation import validate

DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")

__all__ = ["MarketSimulator", "window_label"]


class _State:
    """Everything that changes as the clock runs (the config fields never do).

    Market slots: ``0..n_up-1`` are Up/Down markets (window-major: slot
    ``w * n_sym + i`` is symbol ``i``'s window ``w``), then the range markets of
    each event slot ``k = e * n_sym + i`` (negrisk window ``e``, symbol ``i``) at
    ``n_up + k * negrisk_outcomes + j``. Token row ``s`` is slot ``s``'s UP/Yes,
    row ``n_slots + s`` its DOWN/No.
    """

    __slots__ = (
        "rng",
        "rng_range",
        "rng_settle",
        "spot",
        "flow",
        "n",
        "hist",
        "start_ts",
        "n_up",
        "sym_idx",
        "edges",
        "end_ts",
        "noise",
        "shade",
        "shade_on",
        "shade_at",
        "markets",
        "events",
        "token_ids",
        "asks",
        "sizes",
        "prefix",
    )


@dataclass(frozen=True, eq=False, kw_only=True)
class MarketSimulator:
    """Seeded simulator of spot, of Up/Down markets and neg-risk range events, and of flows.

    The fields are exactly ``conf/sim/*.yaml``'s keys. ``vol``, ``drift`` and
    ``mm_vol`` are annualised; ``jump_std`` is the stdev of a log jump; ``chop``
    is the per-second shock of a mean-reverting term relative to the trend's
    (0 = pure GBM) and ``chop_half_life_s`` its half-life; ``vol_regime_switch``
    is the probability per hour of switching between ``vol`` and
    ``vol * vol_high_mult``. ``mm_lag_s``: market makers price from spot this
    many seconds old; with ``mm_lag_min_move`` > 0 only when spot moved more than
    that many sigma (of ``mm_vol`` over the lag) in those seconds, else they quote
    the current spot. ``mm_noise``: stdev of the noise on their UP mid
    (probability units). ``level_size``: shares at the best level, level i holds
    ``(1 + i)`` times that. ``mm_informed``: the fraction of an information
    event's coming drift (the part due before a market ends) that market makers
    price in from the second after the event: 0 = they learn it from spot like
    everyone else, 1 = they know it all, so a move against a pending event is a
    quote the model misreads, not an edge. ``settle_noise``: stdev of the log gap
    between spot and the price markets strike and resolve on (an oracle, as
    Polymarket's Up/Down markets resolve on Chainlink, not on an exchange's
    spot), drawn afresh every second; market makers add its variance to their
    pricing, so a model that prices off spot alone is overconfident near expiry.
    ``mm_vol=None`` means ``vol``. The simulator never sleeps: pacing is the run's
    (``run.speed``).

    ``info_*``, ``leader*`` and ``news_*``: information events and the leader
    trades and headlines that reveal them (see :mod:`engine.sim.informed`).
    ``negrisk_*``: back-to-back neg-risk range events per symbol and window (see
    :mod:`engine.sim.negrisk`); during a mispricing interval (drawn per event
    with ``negrisk_mispricing_prob``, 30-90 s long) every Yes mid of the event
    is shaded down by ``negrisk_mispricing``. The defaults switch all of these
    off (no information events, no leaders, no noise headlines, no range
    events): ``conf/sim/*.yaml`` switch them on.
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
    mm_lag_min_move: float = 0.0
    mm_noise: float = 0.01
    mm_vol: float | None = None
    mm_informed: float = 0.0
    settle_noise: float = 0.0
    half_spread: float = 0.01
    levels: int = 5
    level_size: float = 100.0
    fee_rate: float = 0.07
    info_rate_per_hour: float = 0.0
    info_move: float = 0.0025
    info_horizon_s: int = 120
    info_delay_s: int = 10
    leaders: Sequence[Leader | Mapping[str, object]] = ()
    leader_participation: float = 0.8
    leader_noise_per_hour: float = 2.0
    news_prob: float = 0.7
    news_lag_s: int = 0
    news_accuracy: float = 0.8
    news_noise_per_hour: float = 0.0
    negrisk_windows: Sequence[int] = ()
    negrisk_outcomes: int = 5
    negrisk_bucket_sigma: float = 0.75
    negrisk_augmented_prob: float = 0.2
    negrisk_mispricing_prob: float = 0.3
    negrisk_mispricing: float = 0.02
    _state: _State = field(init=False, repr=False)

    def __post_init__(self) -> None:
        validate(self)
        st = _State()
        st.rng = np.random.default_rng(self.seed)
        st.rng_range = np.random.default_rng([self.seed, 3])
        st.rng_settle = np.random.default_rng([self.seed, 5])
        n_sym, n_up = len(self.symbols), len(self.symbols) * len(self.windows)
        n_slots = n_up + n_sym * len(self.negrisk_windows) * self.negrisk_outcomes
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
        flow = InformedFlow(
            self.symbols,
            seed=self.seed,
            **{f: getattr(self, f) for f in _FLOW_FIELDS},
        )
        st.flow = flow if flow.enabled else None
        st.n = -1
        st.start_ts = parse_start(self.start)
        st.hist = np.tile(initial, (self.mm_lag_s + 1, 1))
        st.n_up = n_up
        st.sym_idx = np.concatenate(
            (
                np.tile(np.arange(n_sym), len(self.windows)),
                np.repeat(
                    np.tile(np.arange(n_sym), len(self.negrisk_windows)), self.negrisk_outcomes
                ),
            )
        ).astype(np.intp)
        st.edges = np.vstack((np.ones(n_slots), np.full(n_slots, HIGH_EDGE)))
        st.end_ts = np.zeros(n_slots)
        st.noise = np.zeros(n_slots)
        st.shade = np.zeros(n_slots)
        st.shade_on = False
        st.shade_at = {}
        st.markets = [None] * n_slots
        st.events = [None] * (n_sym * len(self.negrisk_windows))
        st.token_ids = [""] * (2 * n_slots)
        st.asks = None
        st.sizes = level_sizes(self.levels, self.level_size)
        fields_ = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        digest = hashlib.sha1(repr(sorted(fields_.items())).encode()).hexdigest()[:6]
        st.prefix = f"sim{self.seed}-{digest}-"
        object.__setattr__(self, "_state", st)

    @property
    def start_ts(self) -> float:
        """Epoch seconds of the first tick."""
        return float(self._state.start_ts)

    @property
    def market_prefix(self) -> str:
        """``sim<seed>-<fingerprint>-``: every market id of this simulator starts with it.

        The fingerprint hashes every field, so two runs share market ids exactly
        when they simulate the same market.
        """
        return self._state.prefix

    @property
    def now(self) -> float:
        """Time of the last tick returned; ``start_ts - 1`` before the first :meth:`step`."""
        return self.start_ts + self._state.n

    def step(self) -> Tick:
        """Advance the clock one second and return what a live feed shows at the new time."""
        st = self._state
        n_sym, n_up = len(self.symbols), st.n_up
        z = st.rng.standard_normal(3 * n_sym + n_up)
        u = st.rng.random(n_sym + 1)
        st.n += 1
        ts = st.start_ts + st.n
        if st.n == 0:
            spot = st.spot.spot()
        else:
            extra = st.flow.drift(st.n) if st.flow is not None else None
            spot = st.spot.advance(z[: 3 * n_sym], u, extra)
        spot_list = spot.tolist()
        if self.settle_noise > 0.0:
            # The oracle's price: markets strike and resolve on it, never on spot itself.
            noise = st.rng_settle.standard_normal(n_sym)
            oracle = (spot * np.exp(self.settle_noise * noise)).tolist()
        else:
            oracle = spot_list

        listed: list[Market] = []
        resolved: list[Resolution] = []
        for wi, w in enumerate(self.windows):
            if ts % w == 0:
                for slot in range(wi * n_sym, (wi + 1) * n_sym):
                    self._roll(slot, ts, oracle, listed, resolved)
        for ei, w in enumerate(self.negrisk_windows):
            if ts % w == 0:
                for k in range(ei * n_sym, (ei + 1) * n_sym):
                    self._roll_event(k, ts, oracle, listed, resolved)
        if st.shade_at and ts in st.shade_at:
            for sl, value in st.shade_at.pop(ts):
                st.shade[sl] = value
            st.shade_on = bool(st.shade.any())

        size = self.mm_lag_s + 1
        st.hist[st.n % size] = spot
        lagged = st.hist[(st.n + 1) % size]  # the oldest row: spot mm_lag_s seconds ago
        if self.mm_lag_min_move > 0.0 and self.mm_lag_s > 0:
            # Quoting keeps up with ordinary moves and falls behind only fast ones.
            scale = self.mm_vol * math.sqrt(self.mm_lag_s / SECONDS_PER_YEAR)
            fast = np.abs(np.log(spot / lagged)) > self.mm_lag_min_move * scale
            lagged = np.where(fast, lagged, spot)
        remaining_s = st.end_ts - ts
        quoted = lagged[st.sym_idx]
        if self.mm_informed > 0.0 and st.flow is not None:
            pending = st.flow.pending(st.n)
            if pending is not None:
                due = np.minimum(np.maximum(remaining_s, 1.0), pending.shape[0]).astype(np.intp)
                quoted = quoted * np.exp(self.mm_informed * pending[due - 1, st.sym_idx])
        fair = range_fair_value(
            quoted, st.edges, remaining_s / SECONDS_PER_YEAR, self.mm_vol, self.settle_noise**2
        )
        st.noise[:n_up] = z[3 * n_sym :]
        if st.noise.shape[0] > n_up:
            st.rng_range.standard_normal(out=st.noise[n_up:])
        up_mid = fair + self.mm_noise * st.noise
        if st.shade_on:
            up_mid -= st.shade
        lad = build_ladders(
            np.minimum(np.maximum(up_mid, 0.001), 0.999), self.half_spread, st.sizes
        )
        st.asks = lad.asks

        fts = float(ts)
        books = publish_books(st.token_ids, lad, fts)
        spots = dict(zip(self.symbols, spot_list, strict=True))
        trades, news = st.flow.step(st.n, ts, self._quote) if st.flow is not None else ([], [])
        return Tick(
            ts=fts,
            spot=spots,
            listed=listed,
            books=books,
            resolved=resolved,
            wallet_trades=trades,
            news=news,
        )

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
        n_slots = st.end_ts.shape[0]
        i = int(st.sym_idx[slot])
        s_now = spot[i]
        old = st.markets[slot]
        if old is not None:
            winner = UP if s_now >= old.strike else DOWN
            resolved.append(Resolution(old.market_id, winner, old.strike, s_now, float(ts)))
        w = self.windows[slot // len(self.symbols)]
        symbol = self.symbols[i]
        mid = f"{st.prefix}{short_symbol(symbol)}-updown-{window_label(w)}-{ts}"
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
        st.edges[0, slot] = s_now
        st.end_ts[slot] = ts + w
        st.token_ids[slot] = market.up_token
        st.token_ids[n_slots + slot] = market.down_token
        listed.append(market)

    def _roll_event(
        self,
        k: int,
        ts: int,
        spot: list[float],
        listed: list[Market],
        resolved: list[Resolution],
    ) -> None:
        """Resolve event slot ``k``'s range event ending at ``ts`` (if any) and list the next."""
        st = self._state
        n_sym, n_out, n_slots = len(self.symbols), self.negrisk_outcomes, st.end_ts.shape[0]
        i, w = k % n_sym, self.negrisk_windows[k // n_sym]
        s_now = spot[i]
        if st.events[k] is not None:
            resolved.extend(resolve_event(st.events[k], s_now, ts))
        u = st.rng_range.random(4)
        markets = range_event(
            prefix=st.prefix,
            symbol=self.symbols[i],
            window_s=w,
            start_ts=ts,
            strike=s_now,
            n_outcomes=n_out,
            width=self.negrisk_bucket_sigma * self.mm_vol * math.sqrt(w / SECONDS_PER_YEAR),
            fee_rate=self.fee_rate,
            augmented=bool(u[0] < self.negrisk_augmented_prob),
        )
        st.events[k] = markets
        base = st.n_up + k * n_out
        sl = slice(base, base + n_out)
        st.edges[0, sl] = [max(m.low, LOW_EDGE) for m in markets]
        st.edges[1, sl] = [min(m.high, HIGH_EDGE) for m in markets]
        st.end_ts[sl] = ts + w
        for j, m in enumerate(markets):
            st.markets[base + j] = m
            st.token_ids[base + j] = m.up_token
            st.token_ids[n_slots + base + j] = m.down_token
        listed.extend(markets)
        if u[1] < self.negrisk_mispricing_prob and self.negrisk_mispricing > 0.0:
            # Hidden until it happens: the shading shows only in the books of its seconds.
            dur = min(30 + int(u[2] * 61), w)
            begin = ts + int(u[3] * (w - dur + 1))
            st.shade_at.setdefault(begin, []).append((sl, self.negrisk_mispricing))
            st.shade_at.setdefault(begin + dur, []).append((sl, 0.0))

    def _quote(self, i: int, direction: int) -> tuple[str, str, float] | None:
        """Symbol ``i``'s Up/Down market with the most time left (at least 60 s) and the best
        ask of its UP (``direction > 0``) or DOWN token in the current books."""
        st = self._state
        n_sym, ts = len(self.symbols), st.start_ts + st.n
        best, left = -1, 59.0
        for slot in range(i, st.n_up, n_sym):
            remaining = float(st.end_ts[slot]) - ts
            if remaining > left:
                best, left = slot, remaining
        if best < 0:
            return None
        row = best if direction > 0 else st.end_ts.shape[0] + best
        return st.markets[best].market_id, st.token_ids[row], float(st.asks[row, 0, 0])


_FLOW_FIELDS = (
    "info_rate_per_hour",
    "info_move",
    "info_horizon_s",
    "info_delay_s",
    "leaders",
    "leader_participation",
    "leader_noise_per_hour",
    "news_prob",
    "news_lag_s",
    "news_accuracy",
    "news_noise_per_hour",
)

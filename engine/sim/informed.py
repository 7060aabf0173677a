"""Information events and the flows that reveal them: leader wallets' trades and headlines.

An information event on a symbol is a direction ``d = +-1`` drawn at a Poisson
rate; it adds a log drift totalling ``d * info_move`` to that symbol's spot,
spread evenly over the ``info_horizon_s`` seconds that start ``info_delay_s``
seconds after the event. The planned drift is the simulator's hidden state: a
tick shows only its consequences (spot, then quotes) and the flows below.

- Leaders: each leader takes part in an event with probability
  ``leader_participation``; it buys the token of direction ``d`` with probability
  ``skill`` (else the opposite one) at the event, and the wallet feed delivers
  the trade ``delay_s`` seconds later. Leaders also trade at random
  (``leader_noise_per_hour`` per leader and symbol). Their trades do not move
  the books: the simulated market makers never see them.
- News: with probability ``news_prob`` an event gets a headline ``news_lag_s``
  seconds after it, whose sentiment matches ``d`` with probability
  ``news_accuracy``; neutral headlines arrive at ``news_noise_per_hour`` per
  symbol.

Occurrences are drawn once per second as one categorical draw over all sources
(so two events never share a second: a negligible departure from independent
Poisson processes at these rates). Events and their drift use their own
generator, leader and news draws another, so changing the leaders or the news
settings never changes the spot path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine.core.types import BUY, Headline, WalletTrade
from engine.sim.common import check, whole
from engine.sim.news import BEARISH_PHRASES, BULLISH_PHRASES, NEUTRAL_PHRASES, headline_text

# quote(symbol index, direction) -> (market_id, token_id, best ask) of the market a
# leader trades, or None when the symbol has no market with at least a minute left.
Quote = Callable[[int, int], "tuple[str, str, float] | None"]

_LEADER_KEYS = ("wallet", "skill", "delay_s", "shares")


@dataclass(frozen=True, slots=True)
class Leader:
    """A leader wallet: ``skill`` is the probability it trades an event's direction."""

    wallet: str
    skill: float
    delay_s: int
    shares: float


def parse_leaders(value: object) -> tuple[Leader, ...]:
    """``sim.leaders`` as a tuple of :class:`Leader` (from mappings with exactly their keys)."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise ValueError(
            f"sim.leaders={value!r} must be a list of {{wallet, skill, delay_s, shares}}"
        )
    out: list[Leader] = []
    for k, item in enumerate(value):
        name = f"leaders[{k}]"
        if isinstance(item, Leader):
            item = {key: getattr(item, key) for key in _LEADER_KEYS}
        if not isinstance(item, Mapping) or set(map(str, item)) != set(_LEADER_KEYS):
            raise ValueError(
                f"sim.{name}={item!r} must have exactly the keys wallet, skill, delay_s, shares"
            )
        wallet = item["wallet"]
        if not isinstance(wallet, str) or not wallet:
            raise ValueError(f"sim.{name}.wallet={wallet!r} must be a non-empty string")
        out.append(
            Leader(
                wallet=wallet,
                skill=check(f"{name}.skill", item["skill"], 0.0, 1.0),
                delay_s=whole(f"{name}.delay_s", item["delay_s"], 0, 3600),
                shares=check(f"{name}.shares", item["shares"], 0.0, 1e6, lo_open=True),
            )
        )
    wallets = [x.wallet for x in out]
    if len(set(wallets)) != len(wallets):
        raise ValueError(f"sim.leaders wallets {wallets!r} must be distinct")
    return tuple(out)


class InformedFlow:
    """The hidden information events of every symbol and what the feeds show of them.

    Call :meth:`drift` before moving spot into second ``n`` and :meth:`step`
    once the second's books exist.
    """

    __slots__ = (
        "_symbols",
        "_rng_info",
        "_rng_flow",
        "_p_info",
        "_move",
        "_offsets",
        "_sched",
        "_active_until",
        "_leaders",
        "_participation",
        "_p_leader_noise",
        "_news_prob",
        "_news_lag",
        "_news_accuracy",
        "_p_news_noise",
        "_trades",
        "_news",
    )

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        seed: int,
        info_rate_per_hour: float,
        info_move: float,
        info_horizon_s: int,
        info_delay_s: int,
        leaders: Sequence[Leader],
        leader_participation: float,
        leader_noise_per_hour: float,
        news_prob: float,
        news_lag_s: int,
        news_accuracy: float,
        news_noise_per_hour: float,
    ) -> None:
        self._symbols = tuple(symbols)
        self._rng_info = np.random.default_rng([seed, 1])
        self._rng_flow = np.random.default_rng([seed, 2])
        self._p_info = info_rate_per_hour / 3600.0
        self._move = info_move / info_horizon_s
        self._offsets = info_delay_s + 1 + np.arange(info_horizon_s)
        # Row r holds the extra log increment of every symbol for the seconds n with
        # n % rows == r; an event schedules rows at most delay + horizon seconds ahead.
        self._sched = np.zeros((info_delay_s + info_horizon_s + 1, len(self._symbols)))
        self._active_until = -1
        self._leaders = tuple(leaders)
        self._participation = leader_participation
        self._p_leader_noise = leader_noise_per_hour / 3600.0 if self._leaders else 0.0
        self._news_prob = news_prob
        self._news_lag = news_lag_s
        self._news_accuracy = news_accuracy
        self._p_news_noise = news_noise_per_hour / 3600.0
        self._trades: dict[int, list[WalletTrade]] = {}
        self._news: dict[int, list[Headline]] = {}

    @property
    def enabled(self) -> bool:
        """Whether anything can ever happen (else the simulator skips this flow)."""
        return self._p_info > 0.0 or self._p_leader_noise > 0.0 or self._p_news_noise > 0.0

    def drift(self, n: int) -> np.ndarray | None:
        """The extra log increment of every symbol's spot in second ``n``, or None if none."""
        if n > self._active_until:
            return None
        row = n % self._sched.shape[0]
        out = self._sched[row].copy()
        self._sched[row] = 0.0
        return out

    def pending(self, n: int) -> np.ndarray | None:
        """What the events drawn so far will still add to each symbol's log spot after second ``n``.

        Row ``k`` (``0 <= k < rows``) holds, per symbol, the drift of seconds
        ``n + 1 .. n + 1 + k``; None when no drift is pending. The hidden state an
        informed market maker (``MarketSimulator.mm_informed``) prices in.
        """
        if n >= self._active_until:
            return None
        rows = self._sched.shape[0]
        return np.cumsum(np.roll(self._sched, -((n + 1) % rows), axis=0), axis=0)

    def step(self, n: int, ts: int, quote: Quote) -> tuple[list[WalletTrade], list[Headline]]:
        """Draw second ``n``'s (time ``ts``) events and return what the feeds deliver at ``ts``."""
        n_sym = len(self._symbols)
        if self._p_info > 0.0:
            u = self._rng_info.random()
            if u < self._p_info * n_sym:
                i = min(int(u / self._p_info), n_sym - 1)
                d = 1 if self._rng_info.random() < 0.5 else -1
                self._sched[(n + self._offsets) % self._sched.shape[0], i] += d * self._move
                self._active_until = max(self._active_until, n + int(self._offsets[-1]))
                self._on_event(i, d, ts, quote)
        p_leaders = self._p_leader_noise * len(self._leaders) * n_sym
        if p_leaders + self._p_news_noise * n_sym > 0.0:
            v = self._rng_flow.random()
            if v < p_leaders:
                k = min(int(v / self._p_leader_noise), len(self._leaders) * n_sym - 1)
                d = 1 if self._rng_flow.random() < 0.5 else -1
                self._trade(self._leaders[k // n_sym], k % n_sym, d, ts, quote)
            elif v < p_leaders + self._p_news_noise * n_sym:
                i = min(int((v - p_leaders) / self._p_news_noise), n_sym - 1)
                text = headline_text(self._symbols[i], NEUTRAL_PHRASES, self._rng_flow.random())
                self._news.setdefault(ts, []).append(Headline(float(ts), self._symbols[i], text))
        return self._trades.pop(ts, []), self._news.pop(ts, [])

    def _on_event(self, i: int, d: int, ts: int, quote: Quote) -> None:
        """The leaders' trades and the headline of an information event (``d`` on symbol ``i``)."""
        n_lead = len(self._leaders)
        u = self._rng_flow.random(2 * n_lead + 3)
        for k, leader in enumerate(self._leaders):
            if u[2 * k] < self._participation:
                self._trade(leader, i, d if u[2 * k + 1] < leader.skill else -d, ts, quote)
        if u[2 * n_lead] < self._news_prob:
            right = u[2 * n_lead + 1] < self._news_accuracy
            phrases = BULLISH_PHRASES if (d > 0) == right else BEARISH_PHRASES
            at = ts + self._news_lag
            text = headline_text(self._symbols[i], phrases, float(u[2 * n_lead + 2]))
            self._news.setdefault(at, []).append(Headline(float(at), self._symbols[i], text))

    def _trade(self, leader: Leader, i: int, d: int, ts: int, quote: Quote) -> None:
        """``leader`` buys direction ``d`` of symbol ``i`` at the best ask; seen ``delay_s`` later."""
        q = quote(i, d)
        if q is None:
            return
        market_id, token_id, price = q
        seen = ts + leader.delay_s
        trade = WalletTrade(
            leader.wallet, float(ts), float(seen), market_id, token_id, BUY, price, leader.shares
        )
        self._trades.setdefault(seen, []).append(trade)

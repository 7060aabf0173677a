"""The circuit breaker: no new entries after too much damage, until a rule or a human resets it.

Trips on, whichever comes first:
- ``daily_loss``: realized P&L since 00:00 UTC <= -``daily_loss_limit`` USD;
- ``consecutive_losses``: ``max_consecutive_losses`` settled trades in a row lost
  (the longest streak since the previous check counts, see below);
- ``drawdown``: equity fell ``max_drawdown`` (a fraction) below its peak *of the day*: the
  highest equity seen since 00:00 UTC (see below);
- ``stale_feed``: the freshest spot tick is older than ``max_feed_age_s``.

A trip stops new entries; open positions still settle. Resets: a stale-feed
trip when the feed is fresh again; the others at the next UTC day (the daily
P&L, the loss streak and the equity peak start over), or by a human at any time.

The equity peak is a daily one, on purpose and like the daily loss: the first check
at or after 00:00 UTC starts it again at that moment's equity (:attr:`peak_since`
says from when), so ``max_drawdown`` bounds a fall within one UTC day, and a slow
bleed over several days never trips it (``daily_loss_limit`` bounds each day's
share of it). A human reset starts the peak over too. The peak is stored with the
counters (:meth:`CircuitBreaker.state`) as the double itself: a restart resumes
exactly the same peak, so a drawdown trip comes at the same tick as without it.

Settlements of one tick (every market of a 5-minute window resolves in the same
second) come as one batch, :meth:`CircuitBreaker.on_settled_batch`, in the order
the trades were entered (the driver sorts them by entry time, then position id): a
streak is a run of trades in the order they were made. The check reads the
longest streak reached since the previous check (``longest``), not only the
streak left at the end, so losses that reach the limit trip even when a later
trade of the same tick won and reset the streak. ``longest`` lives only from
the settlements to the check of the same tick (the driver stores the state after
the check), so :meth:`CircuitBreaker.state` does not carry it: after a check it
equals ``streak``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.core.validation import check_range

DAY = 86_400.0
CAUSES = ("daily_loss", "consecutive_losses", "drawdown", "stale_feed")


@dataclass(frozen=True)
class BreakerConfig:
    enabled: bool = True
    daily_loss_limit: float = 250.0
    max_consecutive_losses: int = 10
    max_drawdown: float = 0.25
    max_feed_age_s: float = 10.0

    def __post_init__(self) -> None:
        check_range("daily_loss_limit", self.daily_loss_limit, 0.0, 1e9, lo_open=True)
        check_range("max_consecutive_losses", self.max_consecutive_losses, 1, 1_000_000)
        check_range("max_drawdown", self.max_drawdown, 0.0, 1.0, lo_open=True)
        check_range("max_feed_age_s", self.max_feed_age_s, 1.0, 86_400.0)


@dataclass(frozen=True)
class BreakerEvent:
    ts: float
    event: str  # "trip" or "reset"
    cause: str
    value: float
    detail: str = ""


class CircuitBreaker:
    """State: ``tripped`` and its ``cause``; counters of the current UTC day (``day``, days
    since the epoch): ``day_pnl``, ``streak`` and ``peak``, the highest equity since 00:00 UTC."""

    def __init__(self, config: BreakerConfig) -> None:
        self.config = config
        self.tripped = False
        self.cause = ""
        self.day = -1
        self.day_pnl = 0.0
        self.streak = 0
        self.longest = 0  # the longest streak since the previous check
        self.peak = float("nan")

    def restore(
        self, *, tripped: bool, cause: str, day: int, day_pnl: float, streak: int, peak: float
    ) -> None:
        """State read back from the ledger after a restart."""
        self.tripped, self.cause = tripped, cause
        self.day, self.day_pnl, self.streak, self.peak = day, day_pnl, streak, peak
        self.longest = streak

    @property
    def peak_since(self) -> float:
        """When the current :attr:`peak` started: 00:00 UTC of its day (epoch seconds); NaN
        before the first check."""
        return self.day * DAY if self.day >= 0 and not math.isnan(self.peak) else math.nan

    def state(self) -> dict[str, object]:
        """What :meth:`restore` takes back: persisted with the fills that change it."""
        return {
            "tripped": self.tripped,
            "cause": self.cause,
            "day": self.day,
            "day_pnl": self.day_pnl,
            "streak": self.streak,
            "peak": self.peak,
        }

    def on_settled(self, ts: float, pnl: float) -> None:
        """One settled trade's realized P&L (after fees); a loss is ``pnl < 0``."""
        self._roll(ts)
        self.day_pnl += pnl
        self.streak = self.streak + 1 if pnl < 0 else 0
        self.longest = max(self.longest, self.streak)

    def on_settled_batch(self, ts: float, pnls: list[float]) -> None:
        """The trades settled at one ``ts``, in the order they were entered (see the module)."""
        for pnl in pnls:
            self.on_settled(ts, pnl)

    def _roll(self, ts: float) -> bool:
        day = int(ts // DAY)
        if day == self.day:
            return False
        self.day, self.day_pnl, self.streak, self.longest = day, 0.0, 0, 0
        self.peak = float("nan")
        return True

    def check(self, now: float, *, equity: float, feed_age_s: float) -> list[BreakerEvent]:
        """Trips and rule resets due at ``now``."""
        events = []
        new_day = self._roll(now)
        self.peak = equity if math.isnan(self.peak) else max(self.peak, equity)
        if self.tripped:
            fresh = self.cause == "stale_feed" and feed_age_s <= self.config.max_feed_age_s
            if fresh or (new_day and self.cause != "stale_feed"):
                events.append(self._reset(now, "rule", "feed fresh" if fresh else "new UTC day"))
        if not self.tripped:
            trip = self._trip_cause(equity, feed_age_s)
            if trip is not None:
                cause, value = trip
                self.tripped, self.cause = True, cause
                detail = ""
                if cause == "drawdown":  # which peak: the day's, not an all-time one
                    detail = (
                        f"equity {equity:,.2f} USD: {100 * value:.2f} % below the equity peak "
                        f"since 00:00 UTC ({self.peak:,.2f} USD)"
                    )
                events.append(BreakerEvent(now, "trip", cause, value, detail))
        self.longest = self.streak
        return events

    def _trip_cause(self, equity: float, feed_age_s: float) -> tuple[str, float] | None:
        c = self.config
        if self.day_pnl <= -c.daily_loss_limit:
            return "daily_loss", self.day_pnl
        longest = max(self.longest, self.streak)
        if longest >= c.max_consecutive_losses:
            return "consecutive_losses", float(longest)
        if self.peak > 0 and (self.peak - equity) / self.peak >= c.max_drawdown:
            return "drawdown", (self.peak - equity) / self.peak
        if feed_age_s > c.max_feed_age_s:
            return "stale_feed", feed_age_s
        return None

    def _reset(self, now: float, cause: str, detail: str) -> BreakerEvent:
        self.tripped, self.cause = False, ""
        self.streak = self.longest = 0
        return BreakerEvent(now, "reset", cause, 0.0, detail)

    def human_reset(self, now: float, detail: str) -> BreakerEvent:
        """A person resets it: counters start over so the same cause does not trip it at once."""
        self.day_pnl, self.peak = 0.0, float("nan")
        return self._reset(now, "human", detail)

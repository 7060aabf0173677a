"""The two seams every mode plugs into: a ``Feed`` (where ticks come from) and a ``Venue``
(where orders go). The engine loop (:mod:`engine.drivers.loop`) talks only to these, so the
simulator, a replay of recorded data and live exchanges are interchangeable in ``conf/``
(``feed=...``, ``venue=...``) and the loop never asks which one it has.

Both are structural (``typing.Protocol``): any object with these members fits.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable

from engine.core.types import ExecutionReport, Fill, Order, Tick, WorkingOrder


@runtime_checkable
class Feed(Protocol):
    """The clock's source: ticks in time order, each holding only what was known at its ts.

    ``identity()`` describes what the feed replays or streams (kind, seed, fingerprint),
    stored on the run so that a resume is refused on a different market. ``start_ts``
    is the instant of the first tick. ``ticks(after)`` yields ticks in time order; ticks
    at or before ``after`` are warm-up (the loop applies them to its market state and
    does nothing else), so a deterministic feed may replay from its start and a recorded
    or live one may yield a short backfill before ``after``.
    """

    @property
    def start_ts(self) -> float: ...

    def identity(self) -> Mapping[str, object]: ...

    def ticks(self, after: float | None = None) -> Iterator[Tick]: ...


@runtime_checkable
class Venue(Protocol):
    """Where orders go. Reports come back asynchronously, from :meth:`poll`.

    ``submit`` answers at once with ACCEPTED or REJECTED (the venue's own size and
    timing rules); everything later (fills, partial fills, expiry, reverts) arrives
    from ``poll(tick)``, which the loop calls once per tick before it decides. A paper
    venue fills against ``tick``'s books; a live one reads its exchange and may ignore
    ``tick``. ``restore`` hands a venue, at the resume instant ``ts``, the orders still
    working and the recent fills ``(order key, market, token, fill)`` of a resumed run (what the
    ledger holds); ``adopt`` its predecessor's state when a settings version rebuilds it.
    """

    def submit(self, order: Order) -> ExecutionReport: ...

    def cancel(
        self, key: str, ts: float, reason: str = "exec.cancelled"
    ) -> ExecutionReport | None: ...

    def poll(self, tick: Tick) -> list[ExecutionReport]: ...

    def working(self) -> list[WorkingOrder]: ...

    def restore(
        self, ts: float, working: list[WorkingOrder], recent: list[tuple[str, str, str, Fill]]
    ) -> None: ...

    def adopt(self, previous: Venue) -> None: ...

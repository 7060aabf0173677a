"""Runs: each start of the engine is a run, and every row it writes says so.

``edgeloop`` starts a new run unless it is told to resume one (``run.resume=<id|name|last>``),
and a run is resumed only by a configuration with the same fingerprint. The CLI and the
dashboard read one run (the latest by default), a named set, or all of them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.ledger.models import RunRow
from engine.timeutil import to_dt

RUNNING, FINISHED, STOPPED, FAILED = "running", "finished", "stopped", "failed"
# What a run's fingerprint leaves out: how it is paced, watched and stored, and the risk
# controls an operator may change between two starts (the kill switch, the breaker's limits).
# Everything else (feed, seed, strategies, gates, sizers, venue, vol, calibrator, regime,
# bankroll) decides what the run does, and a run is resumed only with the same.
UNFINGERPRINTED = (
    "run.duration",
    "run.speed",
    "run.progress",
    "run.status_every",
    "run.resume",
    "run.name",
    "db",
    "settings",
    "hydra",
    "kill_switch",
    "entries_paused",
    "adaptive.breaker",
)


def fingerprint(config: Mapping[str, Any]) -> str:
    """A short hash of everything in the resolved ``config`` that decides what a run does."""
    doc = json.loads(json.dumps(config, default=str))
    for path in UNFINGERPRINTED:
        *parents, leaf = path.split(".")
        node = doc
        for p in parents:
            node = node.get(p, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    blob = json.dumps(doc, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def start_run(
    *,
    session: Session,
    name: str | None,
    mode: str,
    feed_identity: Mapping[str, Any],
    fingerprint: str,
    config: Mapping[str, Any],
    settings_version: int,
) -> RunRow:
    """A new ``running`` run (its id is set on return)."""
    if name is not None and session.scalar(select(RunRow.id).where(RunRow.name == name)):
        raise LookupError(
            f"run.name={name!r} already names a run of this database: "
            f"resume it with run.resume={name} or choose another name"
        )
    run = RunRow(
        name=name,
        mode=mode,
        feed=str(feed_identity.get("kind", "?")),
        seed=feed_identity.get("seed"),  # type: ignore[arg-type]
        fingerprint=fingerprint,
        feed_identity=dict(feed_identity),
        config=dict(config),
        settings_version=settings_version,
        started_at=datetime.now(UTC),
        status=RUNNING,
    )
    session.add(run)
    session.flush()
    return run


def find_run(*, session: Session, ref: str | int) -> RunRow:
    """The run ``ref`` names: ``last`` (the latest), an id, or a name; LookupError if none."""
    text = str(ref).strip()
    if text == "last":
        run = session.scalar(select(RunRow).order_by(RunRow.id.desc()).limit(1))
        if run is None:
            raise LookupError("run 'last': this database holds no run yet")
        return run
    run = session.get(RunRow, int(text)) if text.isdigit() else None
    if run is None:
        run = session.scalar(select(RunRow).where(RunRow.name == text))
    if run is None:
        known = ", ".join(describe(r) for r in list_runs(session=session)[-5:]) or "none"
        raise LookupError(f"no run {text!r} in this database (latest: {known})")
    return run


def select_runs(*, session: Session, ref: str | None) -> list[int] | None:
    """Run ids for a read: ``all`` -> None (every run), else the named run (default: latest)."""
    if ref == "all":
        return None
    return [find_run(session=session, ref=ref or "last").id]


def list_runs(*, session: Session) -> list[RunRow]:
    return list(session.scalars(select(RunRow).order_by(RunRow.id)))


def describe(run: RunRow) -> str:
    """``run 3 'calm-7'`` (or ``run 3`` without a name)."""
    return f"run {run.id}" + (f" {run.name!r}" if run.name else "")


def mark_progress(*, session: Session, run_id: int, ts: float, first: bool = False) -> None:
    """The feed instant through which the run's writes are stored (and, at start, its first)."""
    values: dict[str, Any] = {"last_ts": to_dt(ts)}
    if first:
        values["first_ts"] = to_dt(ts)
    session.execute(update(RunRow).where(RunRow.id == run_id).values(**values))


def end_run(*, session: Session, run_id: int, status: str) -> None:
    session.execute(
        update(RunRow).where(RunRow.id == run_id).values(status=status, ended_at=datetime.now(UTC))
    )


def reopen_run(*, session: Session, run_id: int) -> None:
    session.execute(update(RunRow).where(RunRow.id == run_id).values(status=RUNNING, ended_at=None))

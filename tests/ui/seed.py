"""Seed a ledger the way a user does (short runs of the real ``edgeloop`` command), add what
the closed loop writes, and read it back with the real ``edgeloop-ledger``."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from engine.ledger.db import make_engine
from engine.ledger.models import BreakerEventRow, CalibrationRow, RegimeChangeRow
from engine.ledger.runs import find_run
from tests.helpers import BIN, ROOT, run_edgeloop

SEED_RUN = ("run.duration=2h", "run.speed=max", "seed=7")
# Another run into the same database: another seed, so other markets and other numbers.
SECOND_RUN = ("run.duration=1h", "run.speed=max", "seed=8", "run.name=second")


def run_engine(url: str, folder: Path, run: tuple[str, ...]) -> None:
    """One run of the real ``edgeloop`` into ``url`` (a new run of that database)."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = run_edgeloop(*run, f"db.url={url}", env={"EDGELOOP_RUN_DIR": str(folder)})
    if proc.returncode != 0:
        raise RuntimeError(f"seeding run {run} failed:\n{proc.stderr[-3000:]}")


def seed_ledger(folder: Path, run: tuple[str, ...] = SEED_RUN) -> Path:
    """Run the engine (2 simulated hours, seed 7) into ``folder/edgeloop.db``; return its path."""
    db = folder / "edgeloop.db"
    run_engine(f"sqlite:///{db}", folder / "run", run)
    return db


def cli_ledger(url: str, run: str | None = None) -> list[dict]:
    """``edgeloop-ledger --json --db url [--run run]``: what the dashboard must show."""
    out = subprocess.run(
        [str(BIN / "edgeloop-ledger"), "--json", "--db", url, *(["--run", run] if run else [])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return json.loads(out.stdout)


def closed_loop_rows(url: str, run: str = "last") -> None:
    """What the lead's closed loop writes into ``run`` (default the latest): a regime flip, a
    breaker trip, a calibration."""
    ts = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        run_id = find_run(session=s, ref=run).id
        s.add(RegimeChangeRow(run_id=run_id, ts=ts, regime="CHOPPY", flip_rate=0.41, sample=22))
        s.add(
            BreakerEventRow(
                run_id=run_id, ts=ts, event="trip", cause="daily_loss", value=-120.0, detail="x"
            )
        )
        s.add(
            CalibrationRow(
                run_id=run_id,
                ts=ts,
                strategy="updown",
                n_wins=40,
                n_losses=12,
                win_gamma=5.0,
                loss_gamma=12.0,
                win_delta=1.1,
                loss_delta=2.3,
                win_iv_rv=1.2,
                loss_iv_rv=1.7,
                win_sigma=2.1,
                loss_sigma=1.6,
                applied=True,
                before={"gates.sigma.min_sigma": 1.5},
                after={
                    "gates.sigma.min_sigma": 1.75,
                    "gates.vol_band.low": 0.8,
                    "gates.vol_band.high": 1.6,
                },
            )  # fmt: skip
        )
    engine.dispose()

"""Seed a ledger the way a user does (a short run of the real ``edgeloop`` command), add what
the closed loop writes, and read it back with the real ``edgeloop-ledger``."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from engine.ledger.db import make_engine
from engine.ledger.models import BreakerEventRow, CalibrationRow, RegimeChangeRow
from tests.helpers import BIN, ROOT, run_edgeloop

SEED_RUN = ("run.duration=2h", "sim.speed=max", "seed=7")


def seed_ledger(folder: Path) -> Path:
    """Run the engine for 2 simulated hours into ``folder/edgeloop.db``; return its path."""
    db = folder / "edgeloop.db"
    proc = run_edgeloop(
        *SEED_RUN, f"db.url=sqlite:///{db}", env={"EDGELOOP_RUN_DIR": str(folder / "run")}
    )
    if proc.returncode != 0:
        raise RuntimeError(f"seeding run failed:\n{proc.stderr[-3000:]}")
    return db


def cli_ledger(url: str) -> list[dict]:
    """``edgeloop-ledger --json --db url``: what the dashboard must show."""
    out = subprocess.run(
        [str(BIN / "edgeloop-ledger"), "--json", "--db", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return json.loads(out.stdout)


def closed_loop_rows(url: str) -> None:
    """What the lead's closed loop writes: a regime flip, a breaker trip, a calibration."""
    ts = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        s.add(RegimeChangeRow(ts=ts, regime="CHOPPY", flip_rate=0.41, sample=22))
        s.add(BreakerEventRow(ts=ts, event="trip", cause="daily_loss", value=-120.0, detail="x"))
        s.add(
            CalibrationRow(
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

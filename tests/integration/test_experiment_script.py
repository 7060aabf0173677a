"""experiments/closed_loop.py reports on real runs: the corridor table, the gates and the comparison."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import ROOT, run_edgeloop


@pytest.mark.slow
def test_the_experiment_report_reads_real_runs_and_draws_the_plot(tmp_path):
    """Two real runs of one seed (calibrated, and static at the corridor's floor) read back as
    the experiment lays them out: the paired per-hour comparison and the block bootstrap."""
    for name, extra in (("calibrated", ()), ("static-1.0", ("adaptive=static",))):
        done = run_edgeloop(
            "+experiment=corridor", "seed=11", "run.duration=25m", "run.speed=max",
            f"db.url=sqlite:///{tmp_path / f's11-{name}'}.db", *extra,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    png = tmp_path / "plot.png"
    out = subprocess.run(
        [sys.executable, "experiments/closed_loop.py", "--analyse", "--out", str(tmp_path),
         "--seeds", "11", "--floors", "1.0", "--hours", "1", "--train-hours", "0",
         "--plot", str(png)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    for line in ("Where the edge lives", "|z|", "IV/RV", "|gamma|", "floors", "calibrated",
                 "static-1.0", "built-in answer: min_sigma 2.0", "paired per (seed, hour)",
                 "95% interval", "floor (static-1.0)", "best in hindsight (static-1.0)"):  # fmt: skip
        assert line in text, text
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_paired_differences_and_the_block_bootstrap():
    """A difference of +1 an hour in every hour: the interval is exactly [1, 1] and p is 0;
    noise around zero: the interval straddles zero."""
    sys.path.insert(0, str(ROOT / "experiments"))
    from closed_loop import block_bootstrap

    assert block_bootstrap(np.ones((5, 12)), 3) == (1.0, 1.0, 0.0)
    lo, hi, p = block_bootstrap(np.random.default_rng(0).normal(0, 10, (5, 12)), 3)
    assert lo < 0 < hi and 0.05 < p < 0.95


def test_analyse_needs_the_folder_of_the_databases():
    out = subprocess.run(
        [sys.executable, "experiments/closed_loop.py", "--analyse"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2 and "--analyse needs --out DIR" in out.stderr

"""experiments/closed_loop.py reports on real runs: the corridor table, the gates and the comparison."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT, run_edgeloop


@pytest.mark.slow
def test_the_experiment_report_reads_two_real_runs_and_draws_the_plot(tmp_path):
    for name, extra in (("on", ()), ("off", ("adaptive=static",))):
        done = run_edgeloop(
            "+experiment=corridor", "run.duration=25m", "run.speed=max",
            f"db.url=sqlite:///{tmp_path / name}.db", *extra,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    png = tmp_path / "plot.png"
    out = subprocess.run(
        [sys.executable, "experiments/closed_loop.py", "--analyse", "--out", str(tmp_path),
         "--days", "1", "--train-days", "0", "--plot", str(png)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    for line in ("Where the edge lives", "|z|", "IV/RV", "|gamma|", "floors", "end of day 1",
                 "calibrated", "static", "one-sided Welch t-test"):  # fmt: skip
        assert line in text, text
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_analyse_needs_the_folder_of_the_databases():
    out = subprocess.run(
        [sys.executable, "experiments/closed_loop.py", "--analyse"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2 and "--analyse needs --out DIR" in out.stderr

"""The README's quick start and examples, one after another on one database, as a user runs them.

(In a file of its own: it is the suite's longest test, and the test workers balance by file.)
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time

import pytest

from tests.helpers import BIN, ROOT, edgeloop_cmd, heading, query


def readme_examples() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    block = text.split("Examples that work", 1)[1].split("```", 2)[1]
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_the_readme_quick_start_and_examples_work_one_after_another(tmp_path):
    """On one database, in the README's order: `make run`'s engine (stopped with Ctrl-C once
    it trades), then every example; each engine run prints its own run's table."""
    url = f"sqlite:///{tmp_path / 'edgeloop.db'}"
    env = {**os.environ, "EDGELOOP_DB_URL": url}
    proc = subprocess.Popen(
        edgeloop_cmd("run.speed=600"), cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if query(url, "SELECT count(*) FROM orders")[0][0] > 0:
                break
        except Exception:  # noqa: BLE001 - not migrated yet
            pass
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert heading(out).startswith("ledger of run 1 paper on sim seed=0")
    latest = 1
    examples = readme_examples()
    assert len(examples) >= 10
    for argv in examples:
        cmd = [str(BIN / argv[0]), *argv[1:]]
        if argv[0] == "edgeloop":
            cmd.append("hydra.run.dir=${oc.env:EDGELOOP_RUN_DIR,var/runs/test}")
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (argv, done.stderr[-2000:])
        if argv[0] == "edgeloop":
            resumed = any(a.startswith("run.resume=") for a in argv)
            latest = latest if resumed else latest + 1
            assert heading(done.stdout).startswith(f"ledger of run {latest} "), argv
        elif argv[0] == "edgeloop-ledger" and len(argv) == 1:
            assert heading(done.stdout).startswith(f"ledger of run {latest} ")

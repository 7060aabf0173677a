"""The running paper engine applies settings versions without a restart (PostgreSQL, NOTIFY)."""

from __future__ import annotations

import signal
import subprocess

from settings_service import SettingsStore
from tests.helpers import BIN, ROOT, edgeloop_cmd, query, run_edgeloop, wait_for

SIGMA = "strategies.updown.gates.sigma.min_sigma"


def test_a_running_engine_picks_up_a_cli_write(settings_pg_url):
    url = settings_pg_url
    proc = subprocess.Popen(
        edgeloop_cmd("db=postgres", f"db.url={url}", "run.duration=3h", "run.speed=300", "seed=5"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for(lambda: query(url, "SELECT count(*) FROM signals")[0][0] > 50), "no signals"
        done = subprocess.run(
            [
                str(BIN / "edgeloop-settings"),
                "--db",
                url,
                "set",
                f"{SIGMA}=1.7",
                "--reason",
                "test: tighter sigma",
            ],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        # The next signals carry version 1, without a restart.
        assert wait_for(
            lambda: query(url, "SELECT count(*) FROM signals WHERE settings_version = 1")[0][0] > 0
        )
        # Under version 1 the sigma gate rejects |z| in [1.5, 1.7) that version 0 let through.
        assert wait_for(
            lambda: (
                query(
                    url,
                    "SELECT count(*) FROM signals WHERE settings_version = 1 AND strategy = 'updown' "
                    "AND reason = 'gate.sigma' AND reason_value >= 1.5",
                )[0][0]
                > 0
            ),
            timeout=90,
        )
        before = query(
            url,
            "SELECT count(*) FROM signals WHERE settings_version = 0 AND strategy = 'updown' "
            "AND reason = 'gate.sigma' AND reason_value >= 1.5",
        )
        assert before == [(0,)]
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-3000:]
    assert "settings v1 in force" in out


def test_a_restarted_engine_starts_on_the_latest_version_and_honours_the_kill_switch(
    settings_pg_url,
):
    url = settings_pg_url
    from engine.ledger.db import upgrade_to_head

    upgrade_to_head(url)
    store = SettingsStore(url)
    store.write({SIGMA: 2.5}, author="ops", author_kind="human", reason="wide", expected_version=0)
    store.write(
        {"kill_switch": True}, author="ops", author_kind="human", reason="halt", expected_version=1
    )
    store.close()
    done = run_edgeloop("db=postgres", f"db.url={url}", "run.duration=30m", "run.speed=max")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "settings v2 in force" in done.stdout + done.stderr
    assert query(url, "SELECT count(*) FROM signals") == [(0,)]  # kill switch: no entries at all
    assert query(url, "SELECT count(*) FROM outcomes")[0][0] > 0  # markets still resolve

    store = SettingsStore(url)
    store.write(
        {"kill_switch": False},
        author="ops",
        author_kind="human",
        reason="resume",
        expected_version=2,
    )
    store.close()
    done = run_edgeloop("db=postgres", f"db.url={url}", "run.duration=1h", "run.speed=max")
    assert done.returncode == 0, done.stderr[-3000:]
    versions = {v for (v,) in query(url, "SELECT DISTINCT settings_version FROM signals")}
    assert versions == {3}
    weak = query(
        url,
        "SELECT count(*) FROM signals WHERE strategy='updown' AND status='accepted' AND abs(z) < 2.5",
    )
    assert weak == [(0,)]

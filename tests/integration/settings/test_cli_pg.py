"""The real edgeloop-settings console script against PostgreSQL."""

from __future__ import annotations

import json
import os
import pwd
import subprocess

import pytest

from tests.helpers import BIN, ROOT

pytestmark = pytest.mark.postgres

SIGMA = "strategies.updown.gates.sigma.min_sigma"
WHO = pwd.getpwuid(os.geteuid()).pw_name  # the author of every write: the OS account, not $USER


def settings_cli(*argv: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EDGELOOP_DB_URL": url, "USER": "carol"}  # ignored: never the author
    return subprocess.run(
        [str(BIN / "edgeloop-settings"), *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_console_script_writes_audits_refuses_and_rolls_back(settings_pg_url):
    done = settings_cli(
        "set", f"{SIGMA}=2.0", "kill_switch=false", "--reason", "tighten", url=settings_pg_url
    )
    assert done.returncode == 0, done.stderr
    assert f"settings version 1 by {WHO} (human)" in done.stdout

    done = settings_cli("set", f"{SIGMA}=12", "--reason", "x", url=settings_pg_url)
    assert done.returncode == 2
    assert f"{SIGMA}=12.0 must be in [0, 10]" in done.stderr

    done = settings_cli(
        "set", f"{SIGMA}=2.5", "--reason", "x", "--expect", "0", url=settings_pg_url
    )
    assert done.returncode == 3 and "expected version 0 but the latest is 1" in done.stderr

    done = settings_cli(
        "--db",
        settings_pg_url,
        "set",
        f"{SIGMA}=null",
        "--reason",
        "back to conf",
        url="sqlite:///nowhere.db",
    )
    assert done.returncode == 0, done.stderr  # --db wins over $EDGELOOP_DB_URL

    done = settings_cli("rollback", "1", "--reason", "undo", "--json", url=settings_pg_url)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["id"] == 3 and body["document"] == {SIGMA: 2.0, "kill_switch": False}

    history = json.loads(settings_cli("history", "--json", url=settings_pg_url).stdout)
    assert [v["id"] for v in history] == [3, 2, 1, 0]
    assert history[0]["author"] == WHO and history[0]["rollback_of"] == 1

    done = settings_cli("explain", SIGMA, url=settings_pg_url)
    assert done.returncode == 0 and f"settings version 3, a rollback to v1, by {WHO}" in done.stdout

    shown = json.loads(settings_cli("show", "--json", url=settings_pg_url).stdout)
    rows = {r["key"]: r for r in shown["settings"]}
    assert rows[SIGMA]["value"] == 2.0 and rows[SIGMA]["source"] == f"v3 {WHO} (human)"

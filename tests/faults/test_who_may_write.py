"""Who may write settings: nobody outside the engine writes as the calibrator or the governor.

The real ``edgeloop-settings`` script writes as the OS account that runs it, always as a human:
``--author`` and ``$USER`` cannot make a version look like the engine's. The CLI and the
dashboard pass no author kind but "human" to the store. The dashboard listens on this machine
only unless told otherwise.
"""

from __future__ import annotations

import ast
import json
import os
import pwd
import subprocess
import tomllib

import pytest

from settings_service import SettingsStore
from tests.helpers import BIN, ROOT

SIGMA = "strategies.updown.gates.sigma.min_sigma"
WHO = pwd.getpwuid(os.geteuid()).pw_name
# Each spelling runs the real script three times; tests/unit/settings/test_identity.py has the rest.
IMPERSONATIONS = ["calibrator", "ＧＯＶＥＲＮＯＲ", "саlibrator"]  # full-width, Cyrillic а


def settings_cli(url: str, *argv: str, user: str = "carol") -> subprocess.CompletedProcess:
    env = {**os.environ, "USER": user, "LOGNAME": user}
    return subprocess.run(
        [str(BIN / "edgeloop-settings"), "--db", url, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def history(url: str) -> list[dict]:
    return json.loads(settings_cli(url, "history", "--json").stdout)


def assert_cannot_pose_as_the_engine(url: str, label: str) -> None:
    done = settings_cli(url, "set", "kill_switch=true", "--reason", "r", "--author", label)
    assert done.returncode == 2, done.stderr
    assert f"refused: --author={label!r} reads as" in done.stderr and "reserved" in done.stderr
    done = settings_cli(url, "rollback", "0", "--reason", "r", "--author", label)
    assert done.returncode == 2 and "--author" in done.stderr
    assert [v["id"] for v in history(url)] == [0]  # nothing was written


@pytest.mark.parametrize("label", IMPERSONATIONS)
def test_author_flag_cannot_pose_as_the_engine(sqlite_url, label):
    assert_cannot_pose_as_the_engine(sqlite_url, label)


@pytest.mark.postgres
def test_author_flag_cannot_pose_as_the_engine_on_postgres(settings_pg_url):
    assert_cannot_pose_as_the_engine(settings_pg_url, "calibrator")
    done = settings_cli(settings_pg_url, "set", f"{SIGMA}=2.0", "--reason", "r", user="governor")
    assert done.returncode == 0, done.stderr
    (latest, _) = history(settings_pg_url)
    assert (latest["author"], latest["author_kind"]) == (WHO, "human")


def test_the_author_is_the_os_account_and_the_label_sits_beside_it(sqlite_url):
    done = settings_cli(sqlite_url, "set", "kill_switch=true", "--reason", "r", user="calibrator")
    assert done.returncode == 0, done.stderr
    assert f"settings version 1 by {WHO} (human)" in done.stdout  # not $USER
    done = settings_cli(
        sqlite_url, "set", "kill_switch=false", "--reason", "r", "--author", "alice"
    )
    assert done.returncode == 0, done.stderr
    done = settings_cli(sqlite_url, "rollback", "1", "--reason", "r", "--author", "bob")
    assert done.returncode == 0, done.stderr
    authors = [(v["author"], v["author_kind"]) for v in history(sqlite_url)[:3]]
    assert authors == [
        (f"{WHO} (via --author: bob)", "human"),
        (f"{WHO} (via --author: alice)", "human"),
        (WHO, "human"),
    ]


@pytest.mark.parametrize("flag", ["--author-kind", "--kind", "--as"])
def test_the_cli_has_no_way_to_pick_an_author_kind(sqlite_url, flag):
    done = settings_cli(sqlite_url, "set", f"{SIGMA}=2.0", "--reason", "r", flag, "governor")
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr
    assert [v["id"] for v in history(sqlite_url)] == [0]


def test_lookalike_digits_are_refused_by_the_cli(sqlite_url):
    done = settings_cli(sqlite_url, "set", f"{SIGMA}=𝟏.𝟓", "--reason", "r")
    assert done.returncode == 2
    assert f"{SIGMA}='𝟏.𝟓' must be a number in [0, 10] written in ASCII digits" in done.stderr
    done = settings_cli(sqlite_url, "set", "strategies.updown.lookback_s=٦٠", "--reason", "r")
    assert done.returncode == 2 and "must be an integer in [1, 600] written in ASCII" in done.stderr
    assert [v["id"] for v in history(sqlite_url)] == [0]


def _author_kinds_passed(path) -> list[tuple[int, object]]:
    """Every ``author_kind=...`` keyword of a call in ``path``: (line, the literal or None)."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "author_kind":
                    literal = kw.value.value if isinstance(kw.value, ast.Constant) else None
                    found.append((node.lineno, literal))
    return found


@pytest.mark.parametrize(
    "path",
    [ROOT / "settings_service" / "cli.py", *sorted((ROOT / "ui").rglob("*.py"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_the_cli_and_the_dashboard_only_write_as_a_human(path):
    found = _author_kinds_passed(path)
    if path.name in ("cli.py", "settings.py"):
        assert found, "the check would pass vacuously: no author_kind= found"
    for line, kind in found:
        assert kind == "human", f"{path.name}:{line} passes author_kind={kind!r}"


def test_a_store_write_by_a_human_named_like_the_engine_is_refused(sqlite_url):
    store = SettingsStore(sqlite_url)
    with pytest.raises(ValueError, match="reserved for the engine's automated writers"):
        store.write(
            {SIGMA: 2.0}, author="Governor", author_kind="human", reason="r", expected_version=0
        )
    assert store.latest_id() == 0
    store.close()


def test_the_dashboard_listens_on_this_machine_unless_told_otherwise():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"

    def ui_command(*args: str) -> str:
        done = subprocess.run(
            ["make", "-n", "ui", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return next(line for line in done.stdout.splitlines() if "streamlit run" in line)

    assert "--server.address 127.0.0.1 " in ui_command()
    assert "--server.address 0.0.0.0 " in ui_command("UI_ADDRESS=0.0.0.0")


def test_a_breaker_reset_is_signed_by_the_os_account_and_cannot_pose_as_the_engine(tmp_path):
    """``edgeloop-breaker reset --author`` is a label too; the engine tells a person's reset
    by its cause, so no author string can hide it or pass for the engine's."""
    from engine.ledger import runs
    from engine.ledger.db import make_engine, make_sessionmaker, upgrade_to_head
    from engine.ledger.models import BreakerEventRow, BreakerStateRow
    from engine.timeutil import to_dt
    from tests.helpers import query

    url = f"sqlite:///{tmp_path / 'breaker.db'}"
    upgrade_to_head(url)
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        run = runs.start_run(
            session=session, name=None, mode="paper", feed_identity={"kind": "sim", "seed": 0},
            fingerprint="0" * 16, config={}, settings_version=0,
        )  # fmt: skip
        session.flush()
        session.add(
            BreakerEventRow(
                run_id=run.id, ts=to_dt(1.767e9), event="trip", cause="drawdown", value=0.3
            )
        )
        session.add(  # what the engine stores with the trip
            BreakerStateRow(
                run_id=run.id, tripped=True, cause="drawdown", day=20454, day_pnl=-300.0,
                streak=4, peak=1000.0, updated_ts=to_dt(1.767e9),
            )
        )  # fmt: skip
    engine.dispose()
    breaker = str(BIN / "edgeloop-breaker")
    refused = subprocess.run(
        [breaker, "reset", "--reason", "r", "--author", "Engine", "--db", url],
        capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode == 2 and "reserved" in refused.stderr, refused.stderr
    done = subprocess.run(
        [breaker, "reset", "--reason", "reviewed", "--author", "alice", "--db", url],
        capture_output=True, text=True, env={**os.environ, "USER": "calibrator"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert query(url, "SELECT author, cause FROM breaker_events WHERE event = 'reset'") == [
        (f"{me} (via --author: alice)", "human")
    ]
    status = subprocess.run([breaker, "--db", url], capture_output=True, text=True)
    assert "TRIPPED (drawdown), reset requested" in status.stdout, status.stdout
    assert "realized P&L -300.00 USD, losing streak 4, equity peak 1,000.00 USD" in status.stdout
    again = subprocess.run(
        [breaker, "reset", "--reason", "twice", "--db", url], capture_output=True, text=True
    )
    assert again.returncode == 1 and "already pending" in again.stderr

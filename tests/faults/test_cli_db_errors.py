"""Every command turns a database it cannot use into one line on stderr and an exit code.

The real console scripts on real files, mounts and servers: a plain path or an unknown
driver (2), a closed port, a missing database, a read-only mount, a full disk (4), a ledger
behind head or without tables (6), a damaged page (7). The line names the database with its
password hidden and says what to do; there is no traceback. Commands that only read
create nothing.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
from alembic import command

from engine.ledger.db import alembic_config
from settings_service.dbcheck import EXIT_CONFIG, EXIT_DAMAGED, EXIT_SCHEMA, EXIT_UNAVAILABLE
from tests.faults.broken_disks import damage, fill, read_only, tmpfs
from tests.faults.old_ledgers import REVISIONS, populate
from tests.helpers import BIN, ROOT

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING) ")
CLOSED_PORT = "postgresql+psycopg://edgeloop:s3cret@127.0.0.1:1/edgeloop"


def reads(url: str) -> dict[str, list[str]]:
    return {
        "edgeloop-ledger": [str(BIN / "edgeloop-ledger"), "--db", url],
        "edgeloop-breaker": [str(BIN / "edgeloop-breaker"), "status", "--db", url],
        "edgeloop-settings": [str(BIN / "edgeloop-settings"), "show", "--db", url],
    }


def writes(url: str) -> dict[str, list[str]]:
    return {
        "edgeloop-breaker": [str(BIN / "edgeloop-breaker"), "reset", "--reason", "t", "--db", url],
        "edgeloop-settings": [
            *(str(BIN / "edgeloop-settings"), "set", "kill_switch=true"),
            *("--reason", "t", "--db", url),
        ],
    }


def app(url: str, *overrides: str) -> dict[str, list[str]]:
    store = ["db=postgres"] if url.startswith("postgresql") else []
    cmd = [str(BIN / "edgeloop"), *store, f"db.url={url}", "run.duration=30s", "run.speed=max"]
    return {"edgeloop": [*cmd, *overrides]}


def run_all(tmp_path: Path, commands: dict[str, list[str]]) -> dict[str, subprocess.Popen]:
    """Start every command at once (two cores), then wait for all of them."""
    env = {k: v for k, v in os.environ.items() if k != "EDGELOOP_DB_URL"}
    env["EDGELOOP_RUN_DIR"] = str(tmp_path / "runs")
    procs = {
        name: subprocess.Popen(
            [*cmd, f"hydra.run.dir={tmp_path / 'runs'}"] if name == "edgeloop" else cmd,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, cmd in commands.items()
    }
    for proc in procs.values():
        proc.out, proc.err = proc.communicate(timeout=120)
    return procs


def said(procs: dict[str, subprocess.Popen], code: int, *words: str) -> None:
    """Each command exited ``code`` with one line (beside its log records) holding ``words``."""
    for name, proc in procs.items():
        lines = [x for x in proc.err.splitlines() if not LOG_LINE.match(x)]
        assert proc.returncode == code, (name, proc.returncode, proc.err[-2000:])
        assert len(lines) == 1 and lines[0].startswith(f"{name}: "), (name, proc.err[-2000:])
        assert "Traceback" not in proc.err, name
        for word in words:
            assert word in lines[0], (name, word, lines[0])


@pytest.fixture
def ledger(tmp_path) -> Path:
    """A ledger at head with a run, a tripped breaker and a settings version."""
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    command.upgrade(alembic_config(url), "head")
    populate(url)
    return path


def test_a_plain_path_or_an_unknown_driver_is_a_configuration_error(tmp_path):
    path = tmp_path / "edgeloop.db"
    said(run_all(tmp_path, {**reads(str(path)), **app(str(path))}), EXIT_CONFIG,
         f"database {path} is not a database URL", f"sqlite:///{path}")  # fmt: skip
    said(run_all(tmp_path, {**reads("nosuch://x"), **app("nosuch://x")}), EXIT_CONFIG,
         "database nosuch://x names a driver that is not installed")  # fmt: skip
    assert not path.exists()


def test_an_unreachable_server_or_a_missing_database_hides_the_password(tmp_path):
    procs = run_all(tmp_path, {**reads(CLOSED_PORT), **app(CLOSED_PORT)})
    said(procs, EXIT_UNAVAILABLE, "edgeloop:***@127.0.0.1:1/edgeloop is unreachable",
         "Connection refused", "start its server")  # fmt: skip
    assert not any("s3cret" in p.err + p.out for p in procs.values())
    missing = "postgresql+psycopg://postgres@127.0.0.1:5432/edgeloop_no_such_database"
    said(run_all(tmp_path, {**reads(missing), **app(missing)}), EXIT_UNAVAILABLE,
         "edgeloop_no_such_database does not exist", "create it")  # fmt: skip


def test_a_missing_file_is_no_such_database_and_nothing_is_created(tmp_path):
    path = tmp_path / "nowhere" / "edgeloop.db"
    url = f"sqlite:///{path}"
    commands = {**reads(url), **app(url, "db.migrate=false")}
    said(run_all(tmp_path, commands), EXIT_UNAVAILABLE, f"{url} does not exist (no such database)")
    said(run_all(tmp_path, writes(url)), EXIT_UNAVAILABLE, "no such database")
    assert not path.parent.exists()  # not even its folder


def test_a_damaged_page_is_refused_by_every_command(tmp_path, ledger):
    damage(ledger)
    with closing(sqlite3.connect(ledger)) as conn:  # what was read silently before
        assert conn.execute("SELECT price, shares, fee FROM fills").fetchall() == [
            (0.4, 25.0, 0.42)
        ]
        assert conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]
    url = f"sqlite:///{ledger}"
    said(run_all(tmp_path, {**reads(url), **app(url)}), EXIT_DAMAGED,
         "is damaged (PRAGMA quick_check:", "restore it from a backup")  # fmt: skip
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(16384))
    said(run_all(tmp_path, reads(f"sqlite:///{garbage}")), EXIT_DAMAGED,
         "is not a database file or is damaged")  # fmt: skip


def test_a_ledger_behind_head_or_without_tables_says_migrate(tmp_path):
    old = tmp_path / "old.db"
    command.upgrade(alembic_config(f"sqlite:///{old}"), REVISIONS[-2])
    url = f"sqlite:///{old}"
    said(run_all(tmp_path, {**reads(url), **app(url, "db.migrate=false")}), EXIT_SCHEMA,
         "alembic upgrade head")  # fmt: skip
    empty = tmp_path / "empty.db"
    empty.touch()
    said(run_all(tmp_path, reads(f"sqlite:///{empty}")), EXIT_SCHEMA, "alembic upgrade head")


def test_a_read_only_mount_is_read_but_never_written(tmp_path, ledger):
    """A read-only mount stops root too (``chmod 0444`` does not)."""
    with tmpfs(tmp_path / "ro", "4m") as mnt:
        copy = mnt / "ledger.db"
        copy.write_bytes(ledger.read_bytes())
        read_only(mnt)
        url = f"sqlite:///{copy}"
        procs = run_all(tmp_path, reads(url))
        for name, proc in procs.items():
            assert proc.returncode == 0, (name, proc.err)
        assert "run 1 'old'" in procs["edgeloop-breaker"].out
        said(run_all(tmp_path, {**writes(url), **app(url)}), EXIT_UNAVAILABLE,
             f"{url} is read-only", "make it writable")  # fmt: skip
        assert copy.read_bytes() == ledger.read_bytes()


def test_a_full_disk_is_said_by_every_command_that_writes(tmp_path, ledger):
    """One writer after the other: SQLite says SQLITE_FULL then. (Writers failing at the same
    instant may meet each other's half-written WAL and get SQLITE_IOERR, "disk I/O error",
    which the commands report as a disk error with the same exit code.)"""
    with tmpfs(tmp_path / "full", "2m") as mnt:
        copy = mnt / "ledger.db"
        copy.write_bytes(ledger.read_bytes())
        # An open reader keeps the WAL and its index in place; then nothing is left.
        with closing(sqlite3.connect(copy)) as reader:
            reader.execute("SELECT count(*) FROM runs").fetchall()
            fill(mnt)
            url = f"sqlite:///{copy}"
            for name, cmd in {**writes(url), **app(url)}.items():
                said(run_all(tmp_path, {name: cmd}), EXIT_UNAVAILABLE,
                     f"{url} is on a full disk", "free space")  # fmt: skip

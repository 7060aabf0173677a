"""The checks at start (``engine.ledger.db.check_database``): revision, integrity, read-only.

The engine migrates a SQLite ledger itself (``db.migrate``, true in ``conf/db/sqlite.yaml``)
and refuses one behind head when it may not (PostgreSQL's default), before it writes
anything; a damaged ledger is refused before it is migrated; commands that only read open
SQLite with ``mode=ro``.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from alembic import command
from sqlalchemy import text

from engine.ledger.db import alembic_config, check_database
from settings_service.dbcheck import (
    EXIT_SCHEMA,
    DatabaseDamaged,
    DatabaseNotMigrated,
    DatabaseUnavailable,
    translated,
)
from tests.faults.broken_disks import damage
from tests.faults.old_ledgers import HEAD, REVISIONS, populate
from tests.helpers import query, run_edgeloop

BEHIND = REVISIONS[-2]


def test_the_engine_migrates_an_old_sqlite_ledger_itself_and_keeps_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0001")
    populate(url)
    done = run_edgeloop(f"db.url={url}", "run.duration=2m", "run.speed=max",
                        env={"EDGELOOP_RUN_DIR": str(tmp_path / "runs")})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert query(url, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert query(url, "SELECT id, name FROM runs ORDER BY id") == [(1, "legacy"), (2, None)]
    fills = "SELECT price, shares, fee, reverted FROM fills WHERE run_id = 1"
    assert query(url, fills) == [(0.4, 25.0, 0.42, 0)]


def test_the_engine_refuses_a_ledger_behind_head_when_it_may_not_migrate(scratch_pg_url, tmp_path):
    command.upgrade(alembic_config(scratch_pg_url), BEHIND)
    done = run_edgeloop("db=postgres", f"db.url={scratch_pg_url}",
                        env={"EDGELOOP_RUN_DIR": str(tmp_path / "runs")})  # fmt: skip
    assert done.returncode == EXIT_SCHEMA, done.stderr[-3000:]
    line = done.stderr.strip().splitlines()[-1]
    assert (
        line.startswith("edgeloop: database postgresql+psycopg://")
        and "Traceback" not in done.stderr
    )
    assert (
        f"is at revision {BEHIND}, this edgeloop needs {HEAD}; run `alembic upgrade head`" in line
    )
    assert "db.migrate=true" in line
    assert query(scratch_pg_url, "SELECT version_num FROM alembic_version") == [(BEHIND,)]
    assert query(scratch_pg_url, "SELECT count(*) FROM runs") == [(0,)]  # nothing written


def test_a_revision_this_code_does_not_know_is_refused(sqlite_url):
    with closing(sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
        conn.commit()
    for migrate in (False, True):
        with pytest.raises(DatabaseNotMigrated, match="0099, which this edgeloop does not know"):
            check_database(sqlite_url, migrate=migrate)


def test_a_damaged_ledger_is_refused_before_it_is_migrated(tmp_path):
    path = tmp_path / "old.db"
    command.upgrade(alembic_config(f"sqlite:///{path}"), BEHIND)
    damage(path)
    with pytest.raises(DatabaseDamaged, match=r"PRAGMA quick_check: \*\*\* in database main"):
        check_database(f"sqlite:///{path}", migrate=True)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(BEHIND,)]


def test_a_reader_creates_nothing_and_cannot_write(sqlite_url, tmp_path):
    missing = tmp_path / "no" / "such.db"
    with pytest.raises(DatabaseUnavailable, match="no such database"):
        check_database(f"sqlite:///{missing}", readonly=True)
    assert not missing.parent.exists()
    engine = check_database(sqlite_url, readonly=True)
    try:
        refused = pytest.raises(DatabaseUnavailable, match="is read-only")
        with refused, translated(sqlite_url), engine.begin() as conn:
            conn.execute(text("DELETE FROM runs"))
    finally:
        engine.dispose()

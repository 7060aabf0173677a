"""Migrations survive being killed, and old ledgers upgrade with every row intact.

Each revision is one transaction, on SQLite too (``migrations/env.py``): a migration killed
with SIGKILL at any instant leaves the database exactly at a revision boundary (its schema
equals that of a database migrated to that revision and no further), and the next upgrade
completes. A revision that would leave broken references is rolled back whole.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from engine.ledger.db import alembic_config, make_engine, upgrade_to_head
from settings_service.dbcheck import DatabaseDamaged
from tests.faults.migrator import migrator
from tests.faults.old_ledgers import HEAD, REVISIONS, assert_intact, populate

KILLS = 20


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def schema(path: Path) -> list[tuple]:
    """Every table and index as SQLite stores them; a table's constraints as a set (a batch
    migration writes them in no fixed order)."""
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
    return [(kind, name, table, _normal(sql)) for kind, name, table, sql in rows]


def _normal(sql: str | None) -> object:
    if sql is None or not sql.startswith("CREATE TABLE"):
        return sql
    head, _, body = sql.partition("(")
    items = [i.strip() for i in body.strip().removesuffix(")").split(", \n")]
    columns = [i for i in items if not i.startswith("CONSTRAINT")]
    return head, columns, sorted(set(items) - set(columns))


def revision(path: Path) -> str | None:
    with closing(sqlite3.connect(path)) as conn:
        if not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'"
        ).fetchall():
            return None
        found = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    return found[0][0] if found else None


def sound(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


@pytest.fixture(scope="module")
def boundaries(tmp_path_factory) -> dict[str | None, list[tuple]]:
    """The schema of a database migrated to each revision (None: not at all)."""
    path = tmp_path_factory.mktemp("boundaries") / "ref.db"
    sqlite3.connect(path).close()
    found: dict[str | None, list[tuple]] = {None: schema(path)}
    for rev in REVISIONS:
        command.upgrade(alembic_config(sqlite_url(path)), rev)
        found[rev] = schema(path)
    return found


@pytest.fixture(scope="module")
def ledger_0001(tmp_path_factory) -> tuple[Path, dict[str, set[str]]]:
    """A ledger written at revision 0001 (its file and the columns it had)."""
    path = tmp_path_factory.mktemp("old") / "0001.db"
    command.upgrade(alembic_config(sqlite_url(path)), "0001")
    return path, populate(sqlite_url(path))


@pytest.mark.parametrize("rev", REVISIONS[:-1])
def test_a_ledger_of_every_revision_upgrades_with_its_rows(rev, tmp_path):
    url = sqlite_url(tmp_path / "old.db")
    cfg = alembic_config(url)
    command.upgrade(cfg, rev)
    columns = populate(url)
    command.upgrade(cfg, "head")
    assert_intact(url, columns)
    sound(tmp_path / "old.db")
    command.check(cfg)  # the schema is head's: nothing to autogenerate


def test_a_ledger_of_every_revision_upgrades_on_postgres(scratch_pg_url):
    cfg = alembic_config(scratch_pg_url)
    engine = make_engine(scratch_pg_url)
    for rev in REVISIONS[:-1]:
        with engine.begin() as conn:  # an empty database again
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        command.upgrade(cfg, rev)
        columns = populate(scratch_pg_url)
        command.upgrade(cfg, "head")
        assert_intact(scratch_pg_url, columns)
    command.check(cfg)
    engine.dispose()


def test_a_revision_that_breaks_references_is_rolled_back_whole(tmp_path, boundaries):
    """Foreign keys are off while a revision copies tables and checked before it commits."""
    path = tmp_path / "orphan.db"
    command.upgrade(alembic_config(sqlite_url(path)), "0001")
    with closing(
        sqlite3.connect(path)
    ) as conn:  # foreign keys off: a fill of an order never written
        conn.execute(
            "INSERT INTO fills (order_id, ts, price, shares, fee) VALUES (99, 'x', 1, 1, 0)"
        )
        conn.commit()
    with pytest.raises(DatabaseDamaged, match=r"migration 0002, which was rolled back.*'fills'"):
        upgrade_to_head(sqlite_url(path))
    assert revision(path) == "0001" and schema(path) == boundaries["0001"]


def kill_during_upgrades(tmp_path: Path, template: Path | None, seed: int, boundaries) -> Counter:
    """SIGKILL ``KILLS`` upgrades (of a copy of ``template``, else of a new file) after seeded
    delays spread over an upgrade's duration; after each kill the database must be at a
    revision boundary and the next upgrade must complete. Returns where the kills left it."""
    rng = random.Random(seed)
    left: Counter = Counter()

    def fresh(name: str) -> Path:
        path = tmp_path / name
        if template is not None:
            shutil.copyfile(template, path)
        return path

    with open(tmp_path / "children.log", "w") as log, migrator(log) as proc:
        timed = []
        for i in range(3):
            began = time.monotonic()
            proc.start(sqlite_url(fresh(f"timed{i}.db")))
            assert proc.reap() == 0, (tmp_path / "children.log").read_text()
            timed.append(time.monotonic() - began)
        duration = sorted(timed)[1]
        for i in range(KILLS):
            path = fresh(f"killed{i}.db")
            pid = proc.start(sqlite_url(path))
            time.sleep(rng.uniform(0, duration))
            os.kill(pid, signal.SIGKILL)
            status = proc.reap()
            rev = revision(path) if path.exists() else None
            left[rev if os.WIFSIGNALED(status) else "finished"] += 1
            assert schema(path) == boundaries[rev], f"kill {i} left {rev} half-applied"
            upgrade_to_head(sqlite_url(path))
            assert schema(path) == boundaries[HEAD]
            sound(path)
    return left


def assert_inside(left: Counter) -> None:
    """Most kills interrupted an upgrade in progress, at more than one place in it."""
    inside = {rev: n for rev, n in left.items() if rev not in (HEAD, "finished")}
    assert sum(inside.values()) >= KILLS // 2 and len(inside) >= 2, left


def test_a_first_migration_killed_at_any_instant_completes_on_the_next_start(tmp_path, boundaries):
    left = kill_during_upgrades(tmp_path, None, seed=14, boundaries=boundaries)
    assert_inside(left)
    command.check(alembic_config(sqlite_url(tmp_path / f"killed{KILLS - 1}.db")))


def test_an_old_ledger_killed_while_upgrading_keeps_every_row(tmp_path, boundaries, ledger_0001):
    template, columns = ledger_0001
    left = kill_during_upgrades(tmp_path, template, seed=15, boundaries=boundaries)
    assert_inside(left)
    for i in range(KILLS):
        assert_intact(sqlite_url(tmp_path / f"killed{i}.db"), columns)

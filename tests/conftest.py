"""Shared fixtures: real databases (SQLite files and PostgreSQL), migrated by Alembic.

PostgreSQL: ``$EDGELOOP_TEST_PG_URL`` (CI creates and migrates a fresh one),
else a scratch database created on the local server. A test that needs
PostgreSQL fails when the server is down; it is never skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from engine.ledger.db import make_engine, upgrade_to_head
from engine.ledger.models import Base

PG_ADMIN = os.environ.get("EDGELOOP_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin_exec(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def scratch_pg_url() -> Iterator[str]:
    """A brand-new, empty PostgreSQL database, dropped afterwards."""
    name = f"edgeloop_t_{uuid.uuid4().hex[:12]}"
    _admin_exec(f"CREATE DATABASE {name}")
    admin = make_url(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        _admin_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def _session_pg_url() -> Iterator[str]:
    url = os.environ.get("EDGELOOP_TEST_PG_URL")
    # Under pytest-xdist (`make test` runs two workers) each worker gets a database of its own:
    # the tests empty theirs before each test.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url and not worker:
        upgrade_to_head(url)
        yield url
        return
    base = make_url(url).database if url else "edgeloop_s"
    name = f"{base}_{worker or 's'}_{uuid.uuid4().hex[:8]}"
    _admin_exec(f"CREATE DATABASE {name}")
    admin = make_url(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1))
    url = admin.set(database=name).render_as_string(hide_password=False)
    upgrade_to_head(url)
    try:
        yield url
    finally:
        _admin_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_url(_session_pg_url: str) -> str:
    """The migrated PostgreSQL test database, emptied before each test (ledger and settings)."""
    from settings_service.models import Base as SettingsBase

    engine = make_engine(_session_pg_url)
    tables = ", ".join(
        t.name for t in [*Base.metadata.sorted_tables, *SettingsBase.metadata.sorted_tables]
    )
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return _session_pg_url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A migrated SQLite file in the test's temporary folder."""
    url = f"sqlite:///{tmp_path / 'edgeloop.db'}"
    upgrade_to_head(url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request) -> str:
    """Each test using it runs on both stores."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def settings_pg_url(pg_url: str) -> str:
    """The migrated PostgreSQL test database with no settings versions."""
    engine = make_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE settings_versions"))
    engine.dispose()
    return pg_url

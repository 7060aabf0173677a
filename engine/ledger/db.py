"""Database URLs, engines, migrations and start checks (the one place that knows them)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from settings_service.dbcheck import MIGRATE, DatabaseNotMigrated, open_checked, translated
from settings_service.dbconn import DbLimits, engine_for

ENV_VAR = "EDGELOOP_DB_URL"
DEFAULT_URL = "sqlite:///var/edgeloop.db"
REPO_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = REPO_ROOT / "alembic.ini"
SQLITE_PRAGMAS = ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL")


def resolve_url(url: str | None = None) -> str:
    """``url`` if given, else ``$EDGELOOP_DB_URL``, else the embedded SQLite file."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def make_engine(url: str | None = None, limits: DbLimits | None = None, **kwargs) -> Engine:  # noqa: ANN003
    """An engine for ``url`` whose waits are bounded by ``limits`` (``db.limits``; default:
    the process's, see :func:`settings_service.dbconn.engine_for`); for SQLite the parent
    folder is created, WAL and foreign keys are on.

    ``kwargs`` go to :func:`sqlalchemy.create_engine` (e.g. ``poolclass``).
    """
    return engine_for(resolve_url(url), limits, pragmas=SQLITE_PRAGMAS, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | None = None):  # noqa: ANN201 - alembic.config.Config
    from alembic.config import Config

    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    cfg.attributes["url"] = resolve_url(url)
    return cfg


def upgrade_to_head(url: str | None = None) -> None:
    """Apply every Alembic migration to ``url`` (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def check_database(
    url: str | None = None, *, migrate: bool = False, readonly: bool = False
) -> Engine:
    """An engine on ``url`` once the start checks pass: the URL, the connection, on SQLite
    ``PRAGMA quick_check``, and the Alembic revision (head, after migrating when
    ``migrate``). Raises a :class:`~settings_service.dbcheck.DatabaseError` naming the
    database, the problem and what to do, with its exit code (docs/operations.md).

    ``readonly``: a missing SQLite file is "no such database" and nothing is ever created or
    written; otherwise the file must be writable, and only ``migrate`` creates a new one.
    """
    url = resolve_url(url)
    engine = open_checked(url, make=make_engine, readonly=readonly, create=migrate)
    try:
        with translated(url):
            current, head = _revisions(engine, url)
            if current != head and migrate and not readonly:
                upgrade_to_head(url)
                current, head = _revisions(engine, url)
        if current != head:
            todo = MIGRATE if migrate else f"{MIGRATE} (or start edgeloop with db.migrate=true)"
            at = f"is at revision {', '.join(sorted(current))}" if current else "has no ledger"
            raise DatabaseNotMigrated(url, f"{at}, this edgeloop needs {', '.join(head)}", todo)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _revisions(engine: Engine, url: str) -> tuple[set[str], set[str]]:
    """The database's Alembic revisions and this code's head; raises when the database holds
    one this code does not know (a newer edgeloop migrated it)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(url))
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    unknown = current - {s.revision for s in script.walk_revisions()}
    if unknown:
        raise DatabaseNotMigrated(
            url,
            f"is at revision {', '.join(sorted(unknown))}, which this edgeloop does not know",
            "upgrade edgeloop (a newer version migrated this database)",
        )
    return current, set(script.get_heads())

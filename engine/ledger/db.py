"""Database URL resolution, engines and migrations (the one place that knows them)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

ENV_VAR = "EDGELOOP_DB_URL"
DEFAULT_URL = "sqlite:///var/edgeloop.db"
REPO_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = REPO_ROOT / "alembic.ini"


def resolve_url(url: str | None = None) -> str:
    """``url`` if given, else ``$EDGELOOP_DB_URL``, else the embedded SQLite file."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def make_engine(url: str | None = None, **kwargs) -> Engine:  # noqa: ANN003
    """An engine for ``url``; for SQLite the parent folder is created and WAL is on.

    ``kwargs`` go to :func:`sqlalchemy.create_engine` (e.g. ``poolclass``).
    """
    url = resolve_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


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

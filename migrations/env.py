"""Alembic environment: the ledger's and the settings service's metadata, the app's URL setting.

Every revision runs in its own transaction, on SQLite too, so a migration killed half-way
leaves the database at the last revision it finished: nothing of the interrupted one (no
half-created table, no ``_alembic_tmp_*`` copy) survives, and the next upgrade starts it
again.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Engine, event, pool

from engine.ledger.db import make_engine, resolve_url
from engine.ledger.models import Base
from settings_service.dbcheck import DatabaseDamaged
from settings_service.models import Base as SettingsBase

config = context.config
if config.config_file_name is not None and not config.attributes.get("url"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = [Base.metadata, SettingsBase.metadata]
URL = config.attributes.get("url") or resolve_url()


def run_migrations_offline() -> None:
    context.configure(
        url=URL,
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
        render_as_batch=URL.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def transactional_sqlite(engine: Engine) -> None:
    """Make pysqlite wrap DDL in the transaction SQLAlchemy begins (SQLAlchemy's recipe).

    Left to itself, Python's ``sqlite3`` (3.11) begins a transaction only before
    INSERT/UPDATE/DELETE, so ``CREATE TABLE`` and a batch migration's first copy table
    commit on their own. Foreign keys are off on these connections: a batch migration
    drops and recreates tables that others reference, SQLite checks references per
    statement, and the pragma is ignored inside a transaction.
    :func:`check_foreign_keys` checks them before each revision commits.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None  # the driver emits no BEGIN of its own
        dbapi_conn.execute("PRAGMA foreign_keys=OFF")

    @event.listens_for(engine, "begin")
    def _begin(conn):  # noqa: ANN001
        # IMMEDIATE: take the write lock first, so two processes migrating at once wait
        # for each other (busy timeout) instead of failing half-way.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def check_foreign_keys(*, ctx, step, **_kw) -> None:  # noqa: ANN001
    """Refuse (and so roll back) a revision that leaves rows with broken references."""
    broken = ctx.connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise DatabaseDamaged(
            URL,
            f"has rows with broken references after migration {step.up_revision_id}, which "
            f"was rolled back (table, rowid, parent, fk): {[tuple(r) for r in broken[:5]]}",
            "repair or delete those rows, then migrate again",
        )


def run_migrations_online() -> None:
    engine = make_engine(URL, poolclass=pool.NullPool)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        transactional_sqlite(engine)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            render_as_batch=sqlite,
            transactional_ddl=True,
            transaction_per_migration=True,
            on_version_apply=[check_foreign_keys] if sqlite else [],
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

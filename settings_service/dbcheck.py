"""What is wrong with a database, in one line, and the exit code that says so.

Every command (``edgeloop``, ``edgeloop-ledger``, ``edgeloop-breaker``,
``edgeloop-settings``) opens its database with :func:`open_checked` and runs with
:func:`translated` around its database work, so a bad URL, a server that does not
answer, a missing, damaged, read-only or full file and a database without the tables
become one :class:`DatabaseError`: a line naming the database (password hidden), what is
wrong and what to do, and an exit code (docs/operations.md). It lives in this package
because ``settings_service`` imports nothing of ``engine``; the ledger's revision check
is :func:`engine.ledger.db.check_database`.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from settings_service.dbconn import default_limits, engine_for

# The database's codes, the same in every command (docs/operations.md has the whole table;
# 1, 3 and 5 are commands' own).
EXIT_CONFIG = 2  # the URL is wrong: fix the argument or the configuration
EXIT_UNAVAILABLE = 4  # it cannot be reached, opened or written now
EXIT_SCHEMA = 6  # it is not at this code's revision: migrate (or upgrade the code)
EXIT_DAMAGED = 7  # it fails SQLite's integrity check: restore a backup

MIGRATE = "run `alembic upgrade head` with EDGELOOP_DB_URL set to it"
CREATE = "check the path, or create it with `alembic upgrade head` (or start `edgeloop`)"
RESTORE = "stop every writer and restore it from a backup"
EXAMPLE = "give sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/NAME"


class DatabaseError(Exception):
    """A database a command cannot use: ``exit_code`` and one line,
    ``database <url> <what is wrong>; <what to do>``."""

    exit_code = EXIT_UNAVAILABLE

    def __init__(self, url: str | URL, problem: str, todo: str) -> None:
        self.url = shown(url)
        self.problem = " ".join(problem.split())
        self.todo = todo
        super().__init__(f"database {self.url} {self.problem}; {todo}")


class BadDatabaseUrl(DatabaseError):
    exit_code = EXIT_CONFIG


class DatabaseUnavailable(DatabaseError):
    exit_code = EXIT_UNAVAILABLE


class DatabaseNotMigrated(DatabaseError):
    exit_code = EXIT_SCHEMA


class DatabaseDamaged(DatabaseError):
    exit_code = EXIT_DAMAGED


def shown(url: str | URL) -> str:
    """``url`` as it may be printed: the password hidden, parseable or not."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", str(url))


def parse(url: str | URL) -> URL:
    """The URL, its dialect and driver checked; :class:`BadDatabaseUrl` says what is wrong."""
    if isinstance(url, str) and "://" not in url:
        raise BadDatabaseUrl(
            url, "is not a database URL", f"give a URL, for a file: sqlite:///{url}"
        )
    try:
        parsed = make_url(url)
        parsed.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError):  # NoSuchModuleError is an ArgumentError
        raise BadDatabaseUrl(url, "names a driver that is not installed", EXAMPLE) from None
    except ArgumentError:
        raise BadDatabaseUrl(url, "cannot be parsed", EXAMPLE) from None
    return parsed


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL (None for another database, memory or a ``file:`` URI)."""
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    return None if name.startswith("file:") else Path(name)


def open_checked(
    url: str | URL,
    *,
    make: Callable[[URL], Engine],
    readonly: bool = False,
    create: bool = False,
    tables: Iterable[str] = (),
) -> Engine:
    """An engine on ``url`` once it answers, passes ``PRAGMA quick_check`` (SQLite) and has
    ``tables``; raises :class:`DatabaseError` otherwise.

    ``make`` builds a writing engine. A SQLite file must exist unless ``create``; with
    ``readonly`` it is opened read-only (``mode=ro``), so nothing is ever created or
    written; otherwise it must be writable.
    """
    parsed = parse(url)
    path = sqlite_file(parsed)
    if path is not None and (path.exists() or not create):
        _check_file(parsed, path, write=not readonly)
    try:
        engine = _readonly_engine(path) if readonly and path else make(parsed)
    except OSError as exc:  # its folder could not be created
        raise DatabaseUnavailable(parsed, f"cannot be created ({exc.strerror})", CREATE) from None
    try:
        with translated(parsed), engine.connect() as conn:
            if path is not None:
                found = [r[0] for r in conn.exec_driver_sql("PRAGMA quick_check").all()]
                if found != ["ok"]:
                    more = f" and {len(found) - 1} more problems" if len(found) > 1 else ""
                    raise DatabaseDamaged(
                        parsed, f"is damaged (PRAGMA quick_check: {found[0]}{more})", RESTORE
                    )
            missing = sorted(set(tables) - set(inspect(conn).get_table_names()))
            if missing:
                raise DatabaseNotMigrated(parsed, f"has no table {', '.join(missing)}", MIGRATE)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _check_file(url: URL, path: Path, *, write: bool) -> None:
    if not path.exists():
        raise DatabaseUnavailable(url, "does not exist (no such database)", CREATE)
    if not path.is_file():
        raise BadDatabaseUrl(url, "is not a file", "give the path of a database file")
    if write and not os.access(path, os.W_OK):
        raise DatabaseUnavailable(
            url,
            "is read-only (file permissions, an immutable file or a read-only mount)",
            "make it writable, or use a command that only reads",
        )


def _readonly_engine(path: Path) -> Engine:
    """SQLite opened with ``mode=ro``: it never creates the file and refuses every write. On a
    read-only mount also ``immutable``: nobody can write it there, and SQLite could not create
    the shared-memory file a WAL database otherwise needs."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    if os.statvfs(path).f_flag & os.ST_RDONLY:
        uri += "&immutable=1"
    timeout = default_limits().busy_timeout_s

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)

    return engine_for(URL.create("sqlite", database=str(path)), creator=connect)


# What the driver's message means: (part of it, error class, the problem, what to do); the
# first that matches wins.
LOGIN = "fix the user or password in the URL"
SERVER = "start its server or fix host and port in the URL"
_MEANINGS: tuple[tuple[str, type[DatabaseError], str, str], ...] = (
    ("disk image is malformed", DatabaseDamaged, "is damaged", RESTORE),
    ("file is not a database", DatabaseDamaged, "is not a database file or is damaged", RESTORE),
    ("no such table", DatabaseNotMigrated, "lacks a table", MIGRATE),
    ("no such column", DatabaseNotMigrated, "lacks a column", MIGRATE),
    ("undefinedtable", DatabaseNotMigrated, "lacks a table", MIGRATE),
    ("undefinedcolumn", DatabaseNotMigrated, "lacks a column", MIGRATE),
    ("readonly database", DatabaseUnavailable, "is read-only", "make it writable"),
    ("disk is full", DatabaseUnavailable, "is on a full disk", "free space on that disk"),
    ("no space left", DatabaseUnavailable, "is on a full disk", "free space on that disk"),
    ("disk i/o error", DatabaseUnavailable, "hit a disk error", "check its disk: full? failing?"),
    ("database is locked", DatabaseUnavailable, "is locked", "retry when the other writer is done"),
    ("unable to open database", DatabaseUnavailable, "cannot be opened", CREATE),
    ("authentication failed", DatabaseUnavailable, "refused the login", LOGIN),
    ('role "', DatabaseUnavailable, "refused the login", LOGIN),
    ("does not exist", DatabaseUnavailable, "does not exist", "create it, then " + MIGRATE),
    ("connect", DatabaseUnavailable, "is unreachable", SERVER),
    ("timeout expired", DatabaseUnavailable, "is unreachable", SERVER),
)


def classify(exc: DBAPIError, url: str | URL) -> DatabaseError:
    """The :class:`DatabaseError` a driver's error means (its first line in parentheses)."""
    lines = str(exc.orig).strip().splitlines() or [type(exc.orig).__name__]
    said = f"{type(exc.orig).__name__} {lines[0]}".lower()
    for part, kind, problem, todo in _MEANINGS:
        if part in said:
            return kind(url, f"{problem} ({lines[0]})", todo)
    return DatabaseUnavailable(url, f"failed ({lines[0]})", "check the database and its server")


@contextmanager
def translated(url: str | URL) -> Iterator[None]:
    """Raise a driver's error inside as the :class:`DatabaseError` it means."""
    try:
        yield
    except DBAPIError as exc:
        raise classify(exc, url) from exc


DATABASE_EXIT_CODES = (
    (EXIT_CONFIG, "the database URL is wrong (not a URL, a plain path, an unknown driver)"),
    (EXIT_UNAVAILABLE, "the database cannot be used now: unreachable, missing, read-only, full"),
    (EXIT_SCHEMA, "the database is not at this code's revision: run `alembic upgrade head`"),
    (EXIT_DAMAGED, "the database is damaged (fails PRAGMA quick_check): restore a backup"),
)


def exit_codes(*own: tuple[int, str]) -> str:
    """The ``--help`` epilog: a command's own exit codes beside the database ones."""
    meanings: dict[int, list[str]] = {}
    for code, meaning in [(0, "done"), *own, *DATABASE_EXIT_CODES]:
        meanings.setdefault(code, []).append(meaning)
    lines = [f"  {code}  {'; '.join(m)}" for code, m in sorted(meanings.items())]
    return "exit codes (docs/operations.md):\n" + "\n".join(lines)

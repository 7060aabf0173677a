"""The versioned settings store: validated, optimistic, append-only writes.

``SettingsStore(url)`` reads and writes ``settings_versions`` (see
:mod:`settings_service.models`). A write names the version it was based on
(``expected_version``); if another write landed first, it raises
:class:`SettingsConflict` and writes nothing. Validation happens before
anything is written. On PostgreSQL the insert and ``pg_notify`` on channel
``edgeloop_settings`` (payload: the new version id) commit together, so a
subscriber is told exactly when the version becomes visible.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from settings_service.dbconn import DbLimits, engine_for
from settings_service.default_schema import default_schema
from settings_service.identity import author_problem
from settings_service.models import (
    APPLY_STATUSES,
    Application,
    SettingsApplicationRow,
    SettingsVersionRow,
    Version,
)
from settings_service.resolve import Resolved, resolve
from settings_service.schema import (
    Problem,
    Schema,
    SettingsConflict,
    SettingsValidationError,
    UnknownVersion,
    author_kind_problem,
)

ENV_VAR = "EDGELOOP_DB_URL"
DEFAULT_URL = "sqlite:///var/edgeloop.db"
CHANNEL = "edgeloop_settings"


def resolve_url(url: str | None = None) -> str:
    """``url`` if given, else ``$EDGELOOP_DB_URL``, else the embedded SQLite file (the ledger's
    rule)."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def sqlalchemy_url(url: str | None = None) -> URL:
    """The resolved URL; a bare ``postgresql://`` gets the psycopg 3 driver."""
    parsed = make_url(resolve_url(url))
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def libpq_url(url: str | None = None) -> str:
    """The same database as a libpq URL, for ``psycopg.connect``."""
    parsed = sqlalchemy_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"{parsed.drivername} is not PostgreSQL")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def make_engine(url: str | None = None, limits: DbLimits | None = None, **kwargs: Any) -> Engine:
    """An engine like the ledger's: SQLite in WAL mode, PostgreSQL with pre-ping, every wait
    bounded by ``limits`` (default: the process's, see :mod:`settings_service.dbconn`)."""
    return engine_for(
        sqlalchemy_url(url), limits, pragmas=("journal_mode=WAL", "synchronous=NORMAL"), **kwargs
    )


def diff_documents(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{key: [old, new]}`` for every key whose value differs; ``None`` means not set."""
    keys = sorted(set(old) | set(new))
    return {k: [old.get(k), new.get(k)] for k in keys if old.get(k) != new.get(k)}


class SettingsStore:
    """Versions of the settings override document in one database.

    ``schema`` validates every write (default: :func:`default_schema`);
    ``base`` holds the lower layers' values (Hydra defaults and the run's
    overrides) that cross-field checks see under the document.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        schema: Schema | None = None,
        base: Mapping[str, Any] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.url = sqlalchemy_url(url)
        self.schema = schema if schema is not None else default_schema()
        self.base = dict(base or {})
        self.engine = engine if engine is not None else make_engine(url)
        self.is_postgres = self.engine.dialect.name == "postgresql"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> SettingsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # reads

    def latest_id(self) -> int:
        with Session(self.engine) as session:
            return self._latest_id(session)

    def current(self) -> Version:
        """The latest version (version 0, the empty document, before the first write)."""
        with Session(self.engine) as session:
            return self._get(session, self._latest_id(session))

    def get(self, version: int) -> Version:
        with Session(self.engine) as session:
            return self._get(session, version)

    def history(self, limit: int | None = None) -> list[Version]:
        """Versions newest first, ending with version 0 when ``limit`` allows."""
        with Session(self.engine) as session:
            stmt = select(SettingsVersionRow).order_by(SettingsVersionRow.id.desc())
            rows = session.scalars(stmt.limit(limit) if limit else stmt).all()
        versions = [Version.from_row(r) for r in rows]
        if limit is None or len(versions) < limit:
            versions.append(Version.genesis())
        return versions

    def diff(self, a: int, b: int) -> dict[str, list[Any]]:
        """``{key: [value in a, value in b]}`` for the keys whose override differs."""
        with Session(self.engine) as session:
            return diff_documents(self._get(session, a).document, self._get(session, b).document)

    def setters(self, keys: Iterable[str] | None = None) -> tuple[Version, dict[str, Version]]:
        """The latest version and, for each key of its document (or of ``keys``), the version
        that last changed it."""
        with Session(self.engine) as session:
            current = self._get(session, self._latest_id(session))
            wanted = set(current.document if keys is None else keys) & set(current.document)
            found: dict[str, Version] = {}
            stmt = select(SettingsVersionRow).order_by(SettingsVersionRow.id.desc())
            for row in session.scalars(stmt.execution_options(yield_per=200)):
                if not wanted:
                    break
                hit = wanted & set(row.diff)
                if hit:
                    version = Version.from_row(row)
                    found.update(dict.fromkeys(hit, version))
                    wanted -= hit
        return current, found

    def explain(
        self,
        key: str,
        *,
        defaults: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Resolved:
        """Which layer sets ``key`` and, for a settings version, who, when and why.

        ``defaults``/``overrides`` are the Hydra layers (default: ``base`` as
        the defaults); the database layer is the latest version.
        """
        if key not in self.schema:
            raise SettingsValidationError([Problem(key, None, "is not a known setting")])
        current, setters = self.setters([key])
        return resolve(
            [key],
            defaults=self.base if defaults is None else defaults,
            overrides=overrides,
            document=current.document,
            setters=setters,
            units={key: self.schema[key].unit},
        )[key]

    def applications(self, versions: Iterable[int] | None = None) -> dict[int, list[Application]]:
        """What each engine instance did with each version (``versions``: all when None),
        oldest report first."""
        stmt = select(SettingsApplicationRow).order_by(SettingsApplicationRow.id)
        if versions is not None:
            stmt = stmt.where(SettingsApplicationRow.version_id.in_(list(versions)))
        out: dict[int, list[Application]] = {}
        with Session(self.engine) as session:
            for row in session.scalars(stmt):
                out.setdefault(row.version_id, []).append(Application.from_row(row))
        return out

    def running_engines(self) -> list[int]:
        """Runs the ledger in this database says are running (none without a ledger): the
        engines a writer waits to hear from. A run killed with -9 stays ``running`` here."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("runs"):
                return []
            return list(
                conn.execute(text("SELECT id FROM runs WHERE status = 'running'")).scalars()
            )

    def wait_for_applications(
        self,
        version: int,
        *,
        runs: Iterable[int],
        timeout_s: float,
        poll_s: float = 0.05,
    ) -> list[Application]:
        """The reports on ``version``, once every run of ``runs`` reported or ``timeout_s``
        passed."""
        wanted = set(runs)
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.applications([version]).get(version, [])
            if wanted <= {a.run_id for a in found} or time.monotonic() >= deadline:
                return found
            time.sleep(poll_s)

    # writes

    def report(
        self,
        version: int,
        *,
        instance: str,
        status: str,
        reason: str = "",
        protected: Mapping[str, Any] | None = None,
        run_id: int | None = None,
    ) -> Application:
        """Record what engine ``instance`` did with ``version``: ``applied`` or ``refused``."""
        if status not in APPLY_STATUSES:
            raise SettingsValidationError(
                [Problem("status", status, f"must be one of {list(APPLY_STATUSES)}")]
            )
        row = SettingsApplicationRow(
            version_id=version,
            instance=instance[:128],
            run_id=run_id,
            status=status,
            reason=reason,
            protected=dict(protected or {}),
            created_at=datetime.now(UTC),
        )
        with Session(self.engine) as session, session.begin():
            session.add(row)
            session.flush()
            return Application.from_row(row)

    def write(
        self,
        changes: Mapping[str, Any],
        *,
        author: str,
        author_kind: str,
        reason: str,
        expected_version: int,
    ) -> Version:
        """Merge ``changes`` over version ``expected_version`` and store the result as the next
        version. ``None`` removes a key's override. Raises
        :class:`SettingsValidationError` or :class:`SettingsConflict`; either way nothing is
        written."""
        self._check_meta(author, author_kind, reason)
        # Everything that does not need the parent is refused before touching the database.
        self.schema.validate(changes, author_kind=author_kind, document={}, base=None)
        return self._append(
            lambda parent: self.schema.validate(
                changes, author_kind=author_kind, document=parent, base=self.base
            )[1],
            author=author,
            author_kind=author_kind,
            reason=reason,
            expected=expected_version,
        )

    def rollback(
        self,
        version: int,
        *,
        author: str,
        reason: str,
        author_kind: str = "human",
        expected_version: int | None = None,
    ) -> Version:
        """A new version whose document equals ``version``'s, validated like any write (a
        governor cannot roll a protected key back). ``expected_version`` defaults to the latest
        at the time of the call."""
        self._check_meta(author, author_kind, reason)
        target = self.get(version).document
        expected = self.latest_id() if expected_version is None else expected_version
        return self._append(
            lambda parent: self.schema.validate_document(
                target, author_kind=author_kind, current=parent, base=self.base
            ),
            author=author,
            author_kind=author_kind,
            reason=reason,
            expected=expected,
            rollback_of=version,
        )

    # internals

    def _append(
        self,
        build: Any,
        *,
        author: str,
        author_kind: str,
        reason: str,
        expected: int,
        rollback_of: int | None = None,
    ) -> Version:
        try:
            with Session(self.engine) as session, session.begin():
                latest = self._latest_id(session)
                if latest != expected:
                    raise self._conflict(session, expected, latest)
                parent = self._get(session, latest).document
                document = build(parent)
                row = SettingsVersionRow(
                    id=latest + 1,
                    parent_id=latest,
                    created_at=datetime.now(UTC),
                    author=author,
                    author_kind=author_kind,
                    reason=reason,
                    document=document,
                    diff=diff_documents(parent, document),
                    rollback_of=rollback_of,
                )
                session.add(row)
                session.flush()
                if self.is_postgres:
                    session.execute(
                        text("SELECT pg_notify(:channel, :payload)"),
                        {"channel": CHANNEL, "payload": str(row.id)},
                    )
                version = Version.from_row(row)
        except IntegrityError as exc:
            # Another writer inserted the same next version between our read and our insert.
            with Session(self.engine) as session:
                latest = self._latest_id(session)
                if latest == expected:
                    raise
                raise self._conflict(session, expected, latest) from exc
        return version

    def _check_meta(self, author: str, author_kind: str, reason: str) -> None:
        problems = [p for p in [author_kind_problem(author_kind)] if p]
        if not author or not author.strip() or len(author) > 128:
            problems.append(Problem("author", author, "must be a non-empty name (<= 128 chars)"))
        elif reserved := author_problem(author, author_kind):  # a human named like the engine
            problems.append(reserved)
        if not reason or not reason.strip():
            problems.append(Problem("reason", reason, "must say why (non-empty)"))
        if problems:
            raise SettingsValidationError(problems)

    @staticmethod
    def _latest_id(session: Session) -> int:
        return session.scalar(select(func.max(SettingsVersionRow.id))) or 0

    def _get(self, session: Session, version: int) -> Version:
        if version == 0:
            return Version.genesis()
        row = session.get(SettingsVersionRow, version)
        if row is None:
            raise UnknownVersion(version, self._latest_id(session))
        return Version.from_row(row)

    def _conflict(self, session: Session, expected: int, latest: int) -> SettingsConflict:
        detail = ""
        if latest > 0:
            row = session.get(SettingsVersionRow, latest)
            if row is not None:
                detail = f" (written by {row.author} ({row.author_kind}): {row.reason!r})"
        return SettingsConflict(expected, latest, detail)

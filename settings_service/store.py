"""The versioned settings store: validated, optimistic, append-only writes.

``SettingsStore(url)`` reads and writes ``settings_versions`` (see
:mod:`settings_service.models`). A write names the version it was based on
(``expected_version``); if another write landed first, it raises
:class:`SettingsConflict` and writes nothing. Validation happens before
anything is written. On PostgreSQL the insert and ``pg_notify`` on channel
``edgeloop_settings`` (payload: the new version id) commit together, so a
subscriber is told exactly when the version becomes visible.

A tuner's parameters are a *proposal* (``settings_proposals``), never in force by themselves:
:meth:`SettingsStore.propose` validates them as a human write over the latest version and
stores them with that version as their base; :meth:`SettingsStore.apply_proposal` (a human
only) writes them as the next version, in the same transaction that marks the proposal
applied, and refuses a proposal that was applied already or is stale (a version was written
after its base: the tuner measured under other settings, so it proposes again).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, inspect, select, text, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from settings_service.dbconn import DbLimits, engine_for
from settings_service.default_schema import default_schema
from settings_service.identity import author_problem
from settings_service.models import (
    APPLY_STATUSES,
    PROPOSER_KINDS,
    Application,
    Proposal,
    SettingsApplicationRow,
    SettingsProposalRow,
    SettingsVersionRow,
    Version,
)
from settings_service.resolve import Resolved, resolve
from settings_service.schema import (
    Problem,
    Schema,
    SettingsConflict,
    SettingsError,
    SettingsValidationError,
    UnknownVersion,
    author_kind_problem,
)

ENV_VAR = "EDGELOOP_DB_URL"
DEFAULT_URL = "sqlite:///var/edgeloop.db"
CHANNEL = "edgeloop_settings"


class UnknownProposal(SettingsError, LookupError):
    """A proposal id that the store does not hold."""

    def __init__(self, proposal: int, latest: int) -> None:
        known = f"proposals are 1..{latest}" if latest else "this database holds no proposal"
        super().__init__(f"unknown proposal {proposal} ({known})")


class StaleProposal(SettingsConflict):
    """A proposal whose base version is no longer the latest; nothing was written."""

    def __init__(self, proposal: Proposal, latest: int, detail: str = "") -> None:
        self.expected, self.latest = proposal.based_on, latest
        SettingsError.__init__(
            self,
            f"proposal {proposal.id} is stale: it was made on version {proposal.based_on}, and "
            f"version {latest} has been written since{detail}; nothing was written (propose "
            "again on the current settings: `edgeloop-tune propose`)",
        )


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

    def proposals(self) -> list[Proposal]:
        """Every proposal, newest first."""
        stmt = select(SettingsProposalRow).order_by(SettingsProposalRow.id.desc())
        with Session(self.engine) as session:
            return [Proposal.from_row(r) for r in session.scalars(stmt)]

    def get_proposal(self, proposal: int) -> Proposal:
        with Session(self.engine) as session:
            return self._proposal(session, proposal)

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

    def propose(
        self,
        changes: Mapping[str, Any],
        *,
        author: str,
        reason: str,
        detail: Mapping[str, Any] | None = None,
        author_kind: str = "tuner",
    ) -> Proposal:
        """Store ``changes`` as a proposal over the latest version, validated as a human would
        write them then; a protected key is never proposed. Nothing is in force until a human
        applies it (:meth:`apply_proposal`)."""
        problems = []
        if author_kind not in PROPOSER_KINDS:
            problems.append(Problem("author_kind", author_kind, f"must be one of {PROPOSER_KINDS}"))
        if not author or not author.strip() or len(author) > 128:
            problems.append(Problem("author", author, "must be a non-empty name (<= 128 chars)"))
        if not reason or not reason.strip():
            problems.append(Problem("reason", reason, "must say why (non-empty)"))
        problems += [
            Problem(k, v, "is protected: only a human sets it, never a proposal")
            for k, v in changes.items()
            if k in self.schema and self.schema[k].protected
        ]
        if problems:
            raise SettingsValidationError(problems)
        with Session(self.engine) as session, session.begin():
            latest = self._latest_id(session)
            parent = self._get(session, latest).document
            normalized, _ = self.schema.validate(
                changes, author_kind="human", document=parent, base=self.base
            )
            row = SettingsProposalRow(
                created_at=datetime.now(UTC),
                author=author,
                author_kind=author_kind,
                reason=reason,
                changes=normalized,
                detail=dict(detail or {}),
                based_on=latest,
            )
            session.add(row)
            session.flush()
            return Proposal.from_row(row)

    def apply_proposal(
        self, proposal: int, *, author: str, reason: str, author_kind: str = "human"
    ) -> Version:
        """Write proposal ``proposal``'s changes as the version after its base, marking it
        applied in the same transaction. A human only; refuses a proposal applied already
        (:class:`SettingsValidationError`) or stale (:class:`StaleProposal`)."""
        if author_kind != "human":
            rule = "must be human: only a human applies a proposal"
            raise SettingsValidationError([Problem("author_kind", author_kind, rule)])
        self._check_meta(author, author_kind, reason)
        found = self.get_proposal(proposal)
        if found.applied_version is not None:
            raise self._applied(found)

        def mark(session: Session, version: SettingsVersionRow) -> None:
            session.execute(
                update(SettingsProposalRow)
                .where(SettingsProposalRow.id == proposal)
                .values(applied_version=version.id)
            )

        try:
            return self._append(
                lambda parent: self.schema.validate(
                    found.changes, author_kind=author_kind, document=parent, base=self.base
                )[1],
                author=author,
                author_kind=author_kind,
                reason=reason,
                expected=found.based_on,
                after=mark,
            )
        except SettingsConflict as exc:
            again = self.get_proposal(proposal)
            if again.applied_version is not None:  # by another human, a moment ago
                raise self._applied(again) from None
            with Session(self.engine) as session:
                detail = self._written_by(session, exc.latest)
            raise StaleProposal(found, exc.latest, detail) from None

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
        after: Callable[[Session, SettingsVersionRow], None] | None = None,
    ) -> Version:
        """Insert the next version (``build(parent document)``); ``after`` runs in the same
        transaction once the row is in."""
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
                if after is not None:
                    after(session, row)
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

    def _proposal(self, session: Session, proposal: int) -> Proposal:
        row = session.get(SettingsProposalRow, proposal)
        if row is None:
            latest = session.scalar(select(func.max(SettingsProposalRow.id))) or 0
            raise UnknownProposal(proposal, latest)
        return Proposal.from_row(row)

    @staticmethod
    def _applied(proposal: Proposal) -> SettingsValidationError:
        rule = f"was applied already, as version {proposal.applied_version}: nothing to apply"
        return SettingsValidationError([Problem("proposal", proposal.id, rule)])

    def _conflict(self, session: Session, expected: int, latest: int) -> SettingsConflict:
        return SettingsConflict(expected, latest, self._written_by(session, latest))

    @staticmethod
    def _written_by(session: Session, version: int) -> str:
        """`` (written by AUTHOR (KIND): 'reason')`` of ``version``, or ''."""
        row = session.get(SettingsVersionRow, version) if version > 0 else None
        if row is None:
            return ""
        return f" (written by {row.author} ({row.author_kind}): {row.reason!r})"

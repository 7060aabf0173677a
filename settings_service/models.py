"""The settings service's tables: ``settings_versions`` (append-only, one row per version),
``settings_applications`` (what each engine did with a version) and ``settings_proposals``
(parameters an automated tuner proposes; a human applies one as a new version).

History is a line: version ``id`` always has parent ``id - 1`` (``parent_id``
is UNIQUE and a CHECK ties the two), so two writers on the same parent
cannot both land. Version 0 is the empty override document and has no row;
the first write is version 1 with parent 0. ``document`` is the full flat
override document (dotted key -> value) of that version, ``diff`` its
difference from the parent (``{key: [old, new]}``, ``None`` for "not set").
Rows are never updated or deleted.

The package owns its metadata (it imports nothing of ``engine``); the naming
convention is the ledger's, so constraint names follow one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SettingsVersionRow(Base):
    """One settings version: who, when, why, the full override document and its diff."""

    __tablename__ = "settings_versions"
    __table_args__ = (
        CheckConstraint("id = parent_id + 1", name="line"),
        CheckConstraint("author_kind IN ('human', 'governor', 'calibrator')", name="author_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    parent_id: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    author: Mapped[str] = mapped_column(String(128))
    author_kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    diff: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The version a rollback copied, None for an ordinary write.
    rollback_of: Mapped[int | None] = mapped_column(Integer)


@dataclass(frozen=True)
class Version:
    """A settings version as the API returns it (version 0: the empty document, no row)."""

    id: int
    parent_id: int | None
    created_at: datetime | None
    author: str
    author_kind: str
    reason: str
    document: dict[str, Any]
    diff: dict[str, list[Any]]
    rollback_of: int | None = None

    @classmethod
    def genesis(cls) -> Version:
        return cls(0, None, None, "", "", "the empty document", {}, {})

    @classmethod
    def from_row(cls, row: SettingsVersionRow) -> Version:
        created = row.created_at
        if created.tzinfo is None:  # SQLite keeps no zone; every write is UTC
            created = created.replace(tzinfo=UTC)
        return cls(
            id=row.id,
            parent_id=row.parent_id,
            created_at=created,
            author=row.author,
            author_kind=row.author_kind,
            reason=row.reason,
            document=dict(row.document),
            diff={k: list(v) for k, v in row.diff.items()},
            rollback_of=row.rollback_of,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent_id": self.parent_id,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "author": self.author,
            "author_kind": self.author_kind,
            "reason": self.reason,
            "document": self.document,
            "diff": self.diff,
            "rollback_of": self.rollback_of,
        }


APPLY_STATUSES = ("applied", "refused")


class SettingsApplicationRow(Base):
    """What one engine instance did with one settings version: ``applied`` it, or
    ``refused`` it with the ``reason`` (the protected switches of a refused version,
    ``kill_switch`` and ``entries_paused``, are applied anyway: ``protected`` lists them).

    ``instance``: the engine process (``host:pid``); ``run_id``: its run in the ledger,
    when it has one. Rows are appended, never updated.
    """

    __tablename__ = "settings_applications"
    __table_args__ = (CheckConstraint("status IN ('applied', 'refused')", name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(Integer, index=True)
    instance: Mapped[str] = mapped_column(String(128))
    run_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    protected: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Application:
    """One row of ``settings_applications`` as the API returns it."""

    version_id: int
    instance: str
    run_id: int | None
    status: str
    reason: str
    protected: dict[str, Any]
    created_at: datetime

    @classmethod
    def from_row(cls, row: SettingsApplicationRow) -> Application:
        created = row.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        return cls(
            version_id=row.version_id,
            instance=row.instance,
            run_id=row.run_id,
            status=row.status,
            reason=row.reason or "",
            protected=dict(row.protected or {}),
            created_at=created,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version_id": self.version_id,
            "instance": self.instance,
            "run_id": self.run_id,
            "status": self.status,
            "reason": self.reason,
            "protected": self.protected,
            "created_at": self.created_at.isoformat(),
        }


def engines_summary(answers: list[Application]) -> str:
    """``run 4 applied; run 5 REFUSED: reason``: one entry per engine that answered."""
    parts = []
    for a in answers:
        who = f"run {a.run_id}" if a.run_id is not None else a.instance
        parts.append(f"{who} applied" if a.status == "applied" else f"{who} REFUSED: {a.reason}")
    return "; ".join(parts) or "-"


PROPOSER_KINDS = ("tuner",)


class SettingsProposalRow(Base):
    """Parameters an automated writer proposes (``edgeloop-tune propose``): never in force by
    themselves. ``edgeloop-settings apply-proposal N`` (a human) writes ``changes`` as the
    version after ``based_on`` and records it in ``applied_version``, the one update a row
    gets; a proposal whose ``based_on`` is no longer the latest version is stale and is not
    applied. ``detail``: what the proposer measured (the study, the trial, its folds)."""

    __tablename__ = "settings_proposals"
    __table_args__ = (CheckConstraint("author_kind IN ('tuner')", name="author_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    author: Mapped[str] = mapped_column(String(128))
    author_kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The latest settings version when it was proposed: the only one it may be applied over.
    based_on: Mapped[int] = mapped_column(Integer)
    applied_version: Mapped[int | None] = mapped_column(Integer, unique=True)


@dataclass(frozen=True)
class Proposal:
    """One row of ``settings_proposals`` as the API returns it."""

    id: int
    created_at: datetime
    author: str
    author_kind: str
    reason: str
    changes: dict[str, Any]
    detail: dict[str, Any]
    based_on: int
    applied_version: int | None

    @classmethod
    def from_row(cls, row: SettingsProposalRow) -> Proposal:
        created = row.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        return cls(
            id=row.id,
            created_at=created,
            author=row.author,
            author_kind=row.author_kind,
            reason=row.reason,
            changes=dict(row.changes),
            detail=dict(row.detail or {}),
            based_on=row.based_on,
            applied_version=row.applied_version,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "author": self.author,
            "author_kind": self.author_kind,
            "reason": self.reason,
            "changes": self.changes,
            "detail": self.detail,
            "based_on": self.based_on,
            "applied_version": self.applied_version,
        }

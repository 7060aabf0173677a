"""The engine's side of the settings service: the database layer, read at start and every tick.

Resolution order, lowest first: Hydra defaults < the run's overrides (both in the composed
``cfg``) < the latest settings version in the database. At start the engine builds its
components from ``cfg`` with the latest version's document applied. Before every tick it
asks the store for the latest version id (one indexed read on a connection it keeps), so a
version committed before a tick is seen by that tick: the kill switch acts within one tick.

A version is applied whole or not at all, with one exception: the protected switches
(``kill_switch``, ``entries_paused``) of every version are applied even when the rest of it
cannot be built for this engine's configuration (a key of a strategy this run removed, a
cross-field rule this run's values break). Every version an engine sees is reported back
into the store as ``applied`` or ``refused`` with the reason, per engine instance, so the
writer and ``edgeloop-settings history`` see it. A restart on a store whose latest version
cannot be built starts on the newest version that can, plus the latest's protected
switches, and says so.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

from engine.core.validation import describe_error
from settings_service import SettingsStore
from settings_service.components import PROTECTED_SWITCHES, schema_for_config

log = logging.getLogger("edgeloop")
T = TypeVar("T")
LATEST = "SELECT max(id) FROM settings_versions"


@dataclass(frozen=True)
class SettingsConfig:
    """``enabled``: read the database layer (paper and live). ``resync_s`` and ``poll_s`` are
    kept for old configurations and unused: the engine reads the latest version id every tick."""

    enabled: bool = True
    resync_s: float = 5.0
    poll_s: float = 1.0


def apply_document(cfg: DictConfig, document: Mapping[str, Any]) -> DictConfig:
    """A copy of ``cfg`` with every dotted key of ``document`` set (the database layer on top)."""
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    for key, value in document.items():
        OmegaConf.update(out, key, value, merge=False, force_add=True)
    return out  # type: ignore[return-value]


class LiveSettings:
    """The database layer of one running engine: the version in force and the last one seen."""

    def __init__(
        self, cfg: DictConfig, url: str, config: SettingsConfig, *, instance: str | None = None
    ) -> None:
        self.base = cfg
        self.url = url
        self.config = config
        self.store = SettingsStore(
            url, schema=schema_for_config(OmegaConf.to_container(cfg, resolve=False))
        )
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self.run_id: int | None = None
        self.seen = 0  # the newest version looked at (applied or refused)
        self._probe = None
        self._unsent: list[dict[str, Any]] = []  # reports made before the run had an id

    # -- reading ------------------------------------------------------------------------
    def config_for(self, document: Mapping[str, Any]) -> DictConfig:
        """This engine's configuration with ``document`` on top, less the keys that are no
        longer settings (``dry_run``, in versions stored before it was dropped)."""
        retired = self.store.schema.retired
        return apply_document(self.base, {k: v for k, v in document.items() if k not in retired})

    def switches(self, document: Mapping[str, Any]) -> dict[str, bool]:
        """The protected switches as ``document`` sets them over this engine's configuration."""
        return {k: bool(document.get(k, self.base.get(k, False))) for k in PROTECTED_SWITCHES}

    def latest_id(self) -> int:
        """The newest version id: one indexed read on a kept autocommit connection, through
        its DBAPI cursor (2 µs on SQLite, one round trip on PostgreSQL: every tick pays it)."""
        if self._probe is None:
            conn = self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._probe = (conn, conn.connection.dbapi_connection.cursor())
        conn, cursor = self._probe
        try:
            cursor.execute(LATEST)
            return cursor.fetchone()[0] or 0
        except Exception:
            conn.invalidate()  # a dead connection is not reused
            conn.close()
            self._probe = None
            raise

    def start(self, build: Callable[[DictConfig], T]) -> tuple[int, T]:
        """The version to start on and what ``build`` made of it.

        The latest version if it builds; else the newest older one that does, with the
        latest's protected switches on top (logged, and the latest reported refused)."""
        versions = self.store.history()  # newest first, ending with version 0
        latest = versions[0]
        self.seen = latest.id
        try:
            built = build(self.config_for(latest.document))
        except Exception as exc:  # noqa: BLE001 - any failure to build refuses the version
            failure = describe_error(exc)
        else:
            if latest.id:
                self.report(latest.id, "applied")
            return latest.id, built
        switches = self.switches(latest.document)
        for version in versions[1:]:
            try:
                built = build(self.config_for({**version.document, **switches}))
            except Exception:  # noqa: BLE001
                continue
            log.error(
                "settings v%d cannot be built for this configuration (%s): starting on v%d, "
                "the newest version that builds, with v%d's protected switches %s",
                latest.id,
                failure,
                version.id,
                latest.id,
                _fmt_switches(switches),
            )
            self.report(latest.id, "refused", failure, switches)
            return version.id, built
        raise RuntimeError(f"no settings version builds, not even version 0: {failure}")

    def pending(self) -> tuple[int, dict[str, Any]] | None:
        """The newest version not yet looked at and its document, or None."""
        latest = self.latest_id()
        if latest == self.seen:
            return None
        self.seen = latest
        return latest, self.store.get(latest).document

    # -- reporting ----------------------------------------------------------------------
    def bind(self, run_id: int) -> None:
        """The run this engine writes; reports made before it are sent now."""
        self.run_id = run_id
        unsent, self._unsent = self._unsent, []
        for item in unsent:
            self.report(**item)

    def report(
        self,
        version: int,
        status: str,
        reason: str = "",
        protected: Mapping[str, bool] | None = None,
    ) -> None:
        item = {"version": version, "status": status, "reason": reason, "protected": protected}
        if self.run_id is None:
            self._unsent.append(item)
            return
        self.store.report(
            version,
            instance=self.instance,
            status=status,
            reason=reason,
            protected=dict(protected or {}),
            run_id=self.run_id,
        )

    def stop(self) -> None:
        if self._probe is not None:
            self._probe[0].close()
            self._probe = None
        self.store.close()


def _fmt_switches(switches: Mapping[str, bool]) -> str:
    return " ".join(f"{k}={str(v).lower()}" for k, v in switches.items())

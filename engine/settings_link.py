"""The engine's side of the settings service: the database layer, read at start and live.

Resolution order, lowest first: Hydra defaults < the run's overrides (both in
the composed ``cfg``) < the latest settings version in the database. At start
the engine reads the latest version and builds its components from ``cfg``
with that version's document applied; a watcher (LISTEN/NOTIFY on
PostgreSQL with a resync timer, polling on SQLite) queues every later version,
and the driver applies the newest queued one between two ticks, rebuilding
the components from scratch: a version is applied whole or not at all.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from settings_service import SettingsStore, watch
from settings_service.components import schema_for_config

log = logging.getLogger("edgeloop")


@dataclass(frozen=True)
class SettingsConfig:
    """``enabled``: read the database layer (paper and live). ``resync_s``: re-read the latest
    version this often even without a notification. ``poll_s``: SQLite's polling interval."""

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
    """The database layer of one running engine: its current version and the ones queued."""

    def __init__(self, cfg: DictConfig, url: str, config: SettingsConfig) -> None:
        self.base = cfg
        self.url = url
        self.config = config
        self.store = SettingsStore(
            url, schema=schema_for_config(OmegaConf.to_container(cfg, resolve=False))
        )
        self._queue: queue.SimpleQueue[tuple[int, dict[str, Any]]] = queue.SimpleQueue()
        self._watcher = None
        self.version = 0

    def start(self) -> tuple[int, DictConfig]:
        """The latest version and ``cfg`` with it applied; later versions queue up from here."""
        current = self.store.current()
        self.version = current.id
        self._watcher = watch(
            self.url,
            lambda vid, doc: self._queue.put((vid, dict(doc))),
            resync_s=self.config.resync_s,
            poll_s=self.config.poll_s,
            since=current.id,
        )
        return current.id, apply_document(self.base, current.document)

    def pending(self) -> tuple[int, DictConfig] | None:
        """The newest queued version and ``cfg`` with it applied, or None."""
        latest = None
        while True:
            try:
                latest = self._queue.get_nowait()
            except queue.Empty:
                break
        if latest is None:
            return None
        return latest[0], apply_document(self.base, latest[1])

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        self.store.close()

"""Versioned settings: one store, validated writes, hot reload.

Every tunable parameter is declared once (:class:`Param` in a :class:`Schema`)
and resolves in one order, lowest first (:data:`LAYERS`): the Hydra defaults,
the run's overrides, then the latest settings version in the database. A
version is an append-only row with who, why, when, the full override document
and its diff; writes are validated and optimistic (:class:`SettingsStore`),
and subscribers hear of each new version (:func:`watch`). This package never
imports ``engine``: the engine registers its schema here. See docs/settings.md.
"""

from settings_service.default_schema import default_schema
from settings_service.models import Version
from settings_service.resolve import LAYERS, Resolved, resolve, uses_database
from settings_service.schema import (
    AUTHOR_KINDS,
    Check,
    Param,
    Problem,
    Schema,
    SettingsConflict,
    SettingsError,
    SettingsValidationError,
    UnknownVersion,
    order_check,
)
from settings_service.store import CHANNEL, SettingsStore
from settings_service.watcher import Watcher, watch

__all__ = [
    "AUTHOR_KINDS",
    "CHANNEL",
    "LAYERS",
    "Check",
    "Param",
    "Problem",
    "Resolved",
    "Schema",
    "SettingsConflict",
    "SettingsError",
    "SettingsStore",
    "SettingsValidationError",
    "UnknownVersion",
    "Version",
    "Watcher",
    "default_schema",
    "order_check",
    "resolve",
    "uses_database",
    "watch",
]

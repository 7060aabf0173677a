"""Reads of the versioned settings for the Settings and Live pages (writes go to the store).

The store is the settings service's own :class:`~settings_service.SettingsStore`,
built once per database with the schema of the composed ``conf/``
(:func:`settings_service.default_schema`, so every composed strategy's
parameter is there) and the Hydra defaults as the base that cross-field
checks see under the override document.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from settings_service import SettingsStore, Version, default_schema
from settings_service.models import engines_summary
from settings_service.resolve import default_conf_dir, hydra_layers, resolve
from ui.frames import TTL, conform, tables

NOT_SET = "(not set)"


@st.cache_resource(show_spinner=False)
def settings_store(url: str) -> SettingsStore:
    """The settings service for ``url``: validation, versions, history, rollback."""
    schema = default_schema()
    conf_dir = default_conf_dir()
    base = hydra_layers(conf_dir, [p.key for p in schema])[0] if conf_dir else {}
    return SettingsStore(url, schema=schema, base=base)


def show(value: Any) -> str:
    """A setting's value as text: ``true``/``false`` for flags, ``(not set)`` for None."""
    if value is None:
        return NOT_SET
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def section(key: str) -> str:
    """The tab a key belongs to: its strategy, else ``global``."""
    parts = key.split(".")
    return parts[1] if parts[0] == "strategies" and len(parts) > 2 else "global"


@st.cache_data(ttl=TTL, show_spinner=False)
def settings_current(url: str) -> Version:
    """The latest settings version (version 0, the empty document, before the first write)."""
    if "settings_versions" not in tables(url):
        return Version.genesis()
    return settings_store(url).current()


def effective_values(url: str) -> dict[str, Any]:
    """Each parameter's value now: the latest version's override, else the Hydra default."""
    store = settings_store(url)
    return {**store.base, **settings_current(url).document}


@st.cache_data(ttl=TTL, show_spinner=False)
def settings_table(url: str) -> pd.DataFrame:
    """Every tunable parameter: value, the layer that sets it, unit, range and who may write."""
    store = settings_store(url)
    if "settings_versions" in tables(url):
        current, setters = store.setters()
    else:
        current, setters = Version.genesis(), {}
    params = list(store.schema)
    resolved = resolve(
        [p.key for p in params],
        defaults=store.base,
        document=current.document,
        setters=setters,
        units={p.key: p.unit for p in params},
    )
    rows = [
        {
            "key": p.key,
            "section": section(p.key),
            "value": show(resolved[p.key].value),
            "layer": resolved[p.key].layer or "",
            "set_by": resolved[p.key].source,
            "unit": p.unit,
            "range": p.range_text,
            "writers": ", ".join(sorted(p.allowed)),
            "protected": p.protected,
            "description": p.description,
        }
        for p in params
    ]
    return conform("settings_table", rows)


@st.cache_data(ttl=TTL, show_spinner=False)
def settings_history(url: str) -> pd.DataFrame:
    """Every version, newest first, with the keys it changed."""
    present = tables(url)
    answers = {}
    if "settings_versions" not in present:
        versions = [Version.genesis()]
    else:
        versions = settings_store(url).history()
        if "settings_applications" in present:
            answers = settings_store(url).applications()
    rows = [
        {
            "version": v.id,
            "created_at": v.created_at,
            "author": v.author,
            "author_kind": v.author_kind,
            "reason": v.reason,
            "rollback_of": v.rollback_of,
            "changed": ", ".join(f"{k}: {show(a)} → {show(b)}" for k, (a, b) in v.diff.items()),
            "engines": engines_summary(answers.get(v.id, [])),
        }
        for v in versions
    ]
    return conform("settings_history", rows)


@st.cache_data(ttl=TTL, show_spinner=False)
def settings_diff(url: str, a: int, b: int) -> pd.DataFrame:
    """The keys whose override differs between versions ``a`` and ``b``."""
    diff = settings_store(url).diff(a, b)
    return conform(
        "settings_diff",
        [{"key": k, "old": show(old), "new": show(new)} for k, (old, new) in diff.items()],
    )

"""Layer resolution with provenance: which layer set each value, and for a version who and why.

Layers, lowest first (:data:`LAYERS`): the Hydra defaults (``conf/``), the
run's overrides (the command line, an experiment), then the latest settings
version in the database. Paper and live runs read the database layer;
backtests ignore it unless asked (:func:`uses_database`), so a backtest
replays what its config says. Everything here is pure except
:func:`hydra_layers`, which composes ``conf/`` without building anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from settings_service.models import Version
from settings_service.schema import SettingsError

DEFAULTS, OVERRIDES, DATABASE = "hydra defaults", "run overrides", "settings version"
LAYERS = (DEFAULTS, OVERRIDES, DATABASE)
CONF_ENV = "EDGELOOP_CONF_DIR"
_ABSENT = object()


def uses_database(mode: str, *, asked: bool = False) -> bool:
    """Whether a run in ``mode`` reads the database layer: paper and live do, backtests only
    when ``asked``."""
    return mode in ("paper", "live") or asked


@dataclass(frozen=True)
class Resolved:
    """A key's effective value, the layer that set it (None: no layer does) and, when that is a
    settings version, the version that last changed it. ``layers`` holds every layer's value,
    lowest first."""

    key: str
    value: Any
    layer: str | None
    version: Version | None = None
    layers: dict[str, Any] = field(default_factory=dict)
    unit: str = ""

    @property
    def source(self) -> str:
        """Short provenance: ``hydra defaults``, ``run overrides``, ``v4 alice (human)``."""
        if self.layer is None:
            return "unset"
        if self.layer == DATABASE and self.version is not None:
            return f"v{self.version.id} {self.version.author} ({self.version.author_kind})"
        return self.layer

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.layer is None:
            return f"{self.key} is not set by any layer ({', '.join(LAYERS)})"
        lines = [f"{self.key} = {self.value!r}{unit}", f"  set by: {self.layer}"]
        v = self.version
        if v is not None:
            when = v.created_at.isoformat(timespec="seconds") if v.created_at else "?"
            rollback = f", a rollback to v{v.rollback_of}" if v.rollback_of is not None else ""
            lines[-1] += f" {v.id}{rollback}, by {v.author} ({v.author_kind}) at {when}"
            lines.append(f"  why: {v.reason}")
        for layer, value in self.layers.items():
            lines.append(f"  {layer:<17} {value!r}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "layer": self.layer,
            "unit": self.unit,
            "layers": self.layers,
            "version": self.version.to_dict() if self.version else None,
        }


def resolve(
    keys: Iterable[str],
    *,
    defaults: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    document: Mapping[str, Any] | None = None,
    setters: Mapping[str, Version] | None = None,
    units: Mapping[str, str] | None = None,
) -> dict[str, Resolved]:
    """Each key's effective value: ``document`` (the database layer) over ``overrides`` over
    ``defaults``. ``setters`` maps a key of ``document`` to the version that last changed it."""
    stack = ((DEFAULTS, defaults or {}), (OVERRIDES, overrides or {}), (DATABASE, document or {}))
    out: dict[str, Resolved] = {}
    for key in keys:
        layers = {name: values[key] for name, values in stack if key in values}
        top = next(reversed(layers), None)
        out[key] = Resolved(
            key=key,
            value=layers[top] if top is not None else None,
            layer=top,
            version=(setters or {}).get(key) if top == DATABASE else None,
            layers=layers,
            unit=(units or {}).get(key, ""),
        )
    return out


def select_keys(config: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The values of the dotted ``keys`` that ``config`` (a nested mapping or a DictConfig)
    holds; absent keys are left out."""
    out: dict[str, Any] = {}
    for key in keys:
        node: Any = config
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                node = _ABSENT
                break
            node = node[part]
        if node is not _ABSENT:
            out[key] = node
    return out


def default_conf_dir() -> Path | None:
    """``$EDGELOOP_CONF_DIR``, else the ``conf/`` beside this package, else ``./conf``."""
    candidates = [os.environ.get(CONF_ENV), Path(__file__).resolve().parents[1] / "conf", "conf"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "config.yaml").is_file():
            return Path(candidate).resolve()
    return None


def hydra_layers(
    conf_dir: Path, keys: Iterable[str], overrides: Iterable[str] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Hydra defaults and the run-override layer of ``keys``, composed from ``conf_dir``.

    The override layer holds each key that ``overrides`` (Hydra syntax,
    ``key=value`` or ``group=option``) names or changes.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    keys = list(keys)
    overrides = list(overrides)
    try:
        with initialize_config_dir(config_dir=str(Path(conf_dir).resolve()), version_base="1.3"):
            defaults = select_keys(compose(config_name="config"), keys)
            if not overrides:
                return defaults, {}
            run = select_keys(compose(config_name="config", overrides=overrides), keys)
    except (HydraException, OmegaConfBaseException) as exc:
        raise SettingsError(f"cannot compose {conf_dir} with {overrides}: {exc}") from exc
    named = {o.lstrip("+~").split("=", 1)[0] for o in overrides}
    layer = {k: v for k, v in run.items() if k in named or defaults.get(k, _ABSENT) != v}
    return defaults, layer

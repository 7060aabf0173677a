"""Build components from their Hydra config nodes, with errors that name the key.

``build(node, path)`` instantiates ``node`` (a dict with ``_target_``) with
``hydra.utils.instantiate``, building nested components first (a strategy's
``gates`` and ``sizers`` dicts) so a bad value is reported at its full config
path, e.g. ``strategies.updown.gates.dead_zone.low=0.6 must be <= high=0.58``. Each built
component is checked against its field declarations (:func:`engine.core.validation.check_declared`):
an ``int`` field refuses ``2.5``, a tunable refuses a value outside its declared bounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from engine.core.validation import ConfigError, check_declared


def _is_component(node: Any) -> bool:
    return isinstance(node, DictConfig) and "_target_" in node


def _is_component_dict(node: Any) -> bool:
    return (
        isinstance(node, DictConfig)
        and "_target_" not in node
        and len(node) > 0
        and all(_is_component(v) for v in node.values())
    )


def build(node: DictConfig, path: str) -> Any:
    """Instantiate the component at ``node``; ``path`` is its dotted config key.

    Nested components are built first and handed to the constructor as objects
    (``_partial_``: Hydra resolves the target and the plain fields, we call it), so a
    component may hold any object, not only what OmegaConf can represent.
    """
    if not _is_component(node):
        raise ConfigError(path, OmegaConf.to_container(node), "must be a component with _target_")
    children: dict[str, Any] = {}
    for key, value in node.items():
        key = str(key)
        if key.startswith("_"):
            continue
        if _is_component(value):
            children[key] = build(value, f"{path}.{key}")
        elif _is_component_dict(value):
            children[key] = build_all(value, f"{path}.{key}")
    plain = {
        k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if k not in children
    }
    try:
        factory = instantiate(plain, _partial_=True, _convert_="all")
        component = factory(**children)
        # Every numeric field as declared (types, and bounds of the tunables), also for a
        # class whose __post_init__ does not call check_declared yet: `lookback_s=2.5` stops
        # here, with the rule the settings store applies, not later in the loop.
        check_declared(component)
        return component
    except InstantiationException as exc:
        cause = exc.__cause__
        if isinstance(cause, Exception):
            raise _config_error(path, plain, cause) from None
        raise
    except (ConfigError, ValueError, TypeError) as exc:
        raise _config_error(path, plain, exc) from None


def _config_error(path: str, plain: dict, exc: Exception) -> Exception:
    if isinstance(exc, ConfigError):
        return exc.at(path)
    if isinstance(exc, ValueError):
        return ConfigError.wrap(path, exc)
    if isinstance(exc, TypeError):
        # e.g. an unknown key: "__init__() got an unexpected keyword argument 'min_sigm'"
        return ConfigError(path, plain, str(exc))
    return exc


def build_all(nodes: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Build a dict of named components, keeping their order (a gate chain runs in it)."""
    return {str(name): build(node, f"{path}.{name}") for name, node in nodes.items()}

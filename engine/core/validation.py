"""Config validation shared by every component.

Components are frozen dataclasses whose fields are exactly their YAML keys.
``__post_init__`` calls these helpers; a bad value raises :class:`ConfigError`
naming the field, the value and the rule. The builder (``engine.components``)
prefixes the config path, so the user reads e.g.
``strategies.updown.gates.dead_zone.low=0.6 must be <= high=0.58``.
"""

from __future__ import annotations

import math
import re


class ConfigError(ValueError):
    """A component's configuration value is out of its allowed range."""

    def __init__(self, field: str, value: object, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{field}={value!r} {rule}")

    def at(self, prefix: str) -> ConfigError:
        """The same error with ``prefix.`` in front of the field name."""
        return ConfigError(
            f"{prefix}.{self.field}" if prefix else self.field, self.value, self.rule
        )

    @classmethod
    def wrap(cls, path: str, exc: ValueError) -> ConfigError:
        """A component's own ``ValueError`` as a ConfigError, keeping a message that already
        starts with the component's path (``sim.vol=-0.1 must be in [0, 5]``) or with one of
        its fields (``vol=-0.1 ...``, a component outside the engine: ``db.limits``)."""
        text = str(exc)
        if re.match(r"[A-Za-z_]\w*=", text):
            text = f"{path}.{text}"
        if text.startswith(f"{path}."):
            field, _, rest = text.partition("=")
            value, _, rule = rest.partition(" ")
            err = cls(field, value, rule)
            err.args = (text,)
            return err
        return cls(path, "", text)

    def __str__(self) -> str:
        return self.args[0] if self.args else super().__str__()


def check_range(
    field: str,
    value: float,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> None:
    """Raise unless ``value`` is a finite number within ``[lo, hi]`` (ends optionally open)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(field, value, "must be a number")
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    rng = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
    if lo is not None and (value < lo or (lo_open and value == lo)):
        raise ConfigError(field, value, f"must be in {rng}")
    if hi is not None and (value > hi or (hi_open and value == hi)):
        raise ConfigError(field, value, f"must be in {rng}")


def check_order(low_field: str, low: float, high_field: str, high: float) -> None:
    """Raise unless ``low <= high``."""
    if low > high:
        raise ConfigError(low_field, low, f"must be <= {high_field}={high!r}")


def describe_error(exc: BaseException) -> str:
    """One line for a configuration that cannot be built: a ConfigError's own words, else
    the exception's type and message (Hydra and OmegaConf errors span several lines)."""
    words = " ".join(str(exc).split())
    return words if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {words}"

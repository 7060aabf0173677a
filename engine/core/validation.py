"""Config validation shared by every component.

Components are frozen dataclasses whose fields are exactly their YAML keys.
``__post_init__`` calls these helpers; a bad value raises :class:`ConfigError`
naming the field, the value and the rule. The builder (``engine.components``)
prefixes the config path, so the user reads e.g.
``strategies.updown.gates.dead_zone.low=0.6 must be <= high=0.58``.

A tunable field is declared once, on the class, with :func:`tunable`: its default, bounds,
unit, who may change it at run time and what it does; the annotation (``int`` or ``float``)
says whether it must be whole. :func:`check_declared` (called by ``__post_init__`` and by the
builder) checks every declared field, and ``python -m engine.tunables`` writes the same
declarations to ``settings_service/params.yaml``, from which the settings store builds its
schema: start-up and the store refuse the same values with the same rule.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from dataclasses import dataclass
from functools import cache
from typing import Any


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
    rng = range_text(lo, hi, lo_open=lo_open, hi_open=hi_open)
    if lo is not None and (value < lo or (lo_open and value == lo)):
        raise ConfigError(field, value, f"must be in {rng}")
    if hi is not None and (value > hi or (hi_open and value == hi)):
        raise ConfigError(field, value, f"must be in {rng}")


def range_text(
    lo: float | None, hi: float | None, *, lo_open: bool = False, hi_open: bool = False
) -> str:
    """``[lo, hi]`` with ``(``/``)`` for open ends and ``-inf``/``inf`` for missing ones."""
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    return f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"


TUNABLE = "edgeloop.tunable"  # the dataclasses.field metadata key of a Tunable
WRITERS = ("human", "governor", "all")  # all: the calibrator too; governor: and a human
_NUMBER_TYPES: dict[Any, type] = {"int": int, "float": float, int: int, float: float}


@dataclass(frozen=True)
class Tunable:
    """How one component field may be set, declared once with :func:`tunable`.

    ``lo``/``hi``: bounds, inclusive unless ``lo_open``/``hi_open`` (None: unbounded).
    ``writers``: who may change it through the settings store at run time (``human``;
    ``governor``: the governor and a human; ``all``: the calibrator too). ``unit`` and
    ``description`` are what ``edgeloop-settings schema`` shows.
    """

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    unit: str = ""
    writers: str = "governor"
    description: str = ""

    def __post_init__(self) -> None:
        if self.writers not in WRITERS:
            raise ValueError(f"writers={self.writers!r} must be one of {list(WRITERS)}")
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise ValueError(f"lo={self.lo!r} must be <= hi={self.hi!r}")

    def bounds(self, kind: type) -> tuple[float | None, float | None]:
        """``(lo, hi)`` as ``kind`` (int or float), so ``[0.0, 1.0]`` reads the same everywhere."""
        return (
            None if self.lo is None else kind(self.lo),
            None if self.hi is None else kind(self.hi),
        )

    def range_text(self, kind: type) -> str:
        return range_text(*self.bounds(kind), lo_open=self.lo_open, hi_open=self.hi_open)


def tunable(
    default: float,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    unit: str = "",
    writers: str = "governor",
    description: str = "",
) -> Any:
    """A dataclass field with its :class:`Tunable` declaration, e.g.
    ``min_sigma: float = tunable(1.5, lo=0.0, hi=10.0, unit="sigma", writers="all", ...)``."""
    spec = Tunable(lo, hi, lo_open, hi_open, unit, writers, description)
    return dataclasses.field(default=default, metadata={TUNABLE: spec})


@dataclass(frozen=True)
class Declared:
    """One numeric field of a component: its name, ``int`` or ``float``, and its Tunable."""

    name: str
    type: type
    tunable: Tunable | None


@cache
def declared_fields(cls: type) -> tuple[Declared, ...]:
    """Every init field of dataclass ``cls`` annotated ``int`` or ``float`` (its type is checked)
    with its :class:`Tunable` when it declares one (its bounds too; the settings store lists it)."""
    if not dataclasses.is_dataclass(cls):
        return ()
    out = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(TUNABLE)
        kind = _NUMBER_TYPES.get(f.type)
        if spec is not None and (kind is None or not f.init):
            raise TypeError(
                f"{cls.__qualname__}.{f.name}: a tunable must be an init field annotated "
                f"int or float, not {f.type!r}"
            )
        if kind is not None and f.init:
            out.append(Declared(f.name, kind, spec))
    return tuple(out)


def check_value(field: str, value: Any, kind: type, spec: Tunable | None = None) -> Any:
    """``value`` for a field of type ``kind`` (int or float), with the settings store's rules:
    no bool; an int field takes whole numbers only (``30.0`` is taken as ``30``); a tunable
    must be finite and within its bounds. Raises ConfigError naming the field, value and rule."""
    rng = "" if spec is None else spec.range_text(kind)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        what = "an integer" if kind is int else "a number"
        raise ConfigError(field, value, f"must be {what}{f' in {rng}' if rng else ''}")
    if spec is not None and not math.isfinite(value):
        raise ConfigError(field, value, "must be a finite number")
    if kind is int and type(value) is not int:
        if not (isinstance(value, numbers.Integral) or float(value).is_integer()):
            raise ConfigError(field, value, "must be an integer")
        value = int(value)  # 30.0 (or numpy's 30) as 30
    if spec is not None:
        lo, hi = spec.bounds(kind)
        check_range(field, value, lo, hi, lo_open=spec.lo_open, hi_open=spec.hi_open)
    return value


def check_declared(component: object) -> None:
    """Check every numeric field of dataclass ``component`` (:func:`declared_fields`); an int
    field given a whole float keeps it as an int. Call it from ``__post_init__``."""
    for d in declared_fields(type(component)):
        value = getattr(component, d.name)
        checked = check_value(d.name, value, d.type, d.tunable)
        if checked is not value:
            object.__setattr__(component, d.name, checked)


def check_order(low_field: str, low: float, high_field: str, high: float) -> None:
    """Raise unless ``low <= high``."""
    if low > high:
        raise ConfigError(low_field, low, f"must be <= {high_field}={high!r}")


def describe_error(exc: BaseException) -> str:
    """One line for a configuration that cannot be built: a ConfigError's own words, else
    the exception's type and message (Hydra and OmegaConf errors span several lines)."""
    words = " ".join(str(exc).split())
    return words if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {words}"

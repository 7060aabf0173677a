"""Parameter declarations and write validation.

Each tunable parameter is declared once as a :class:`Param`: its dotted key
(the Hydra config path, e.g. ``strategies.updown.gates.sigma.min_sigma``),
type, bounds, unit, description and who may change it. A :class:`Schema`
holds the params plus cross-field :class:`Check` rules, validates every write,
and refuses with a :class:`SettingsValidationError` that names the key, the
value and the rule. The engine registers its components' params with
:meth:`Schema.register` / :meth:`Schema.merge`; ``default_schema`` describes
the ones that exist today.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

AUTHOR_KINDS = ("human", "governor", "calibrator")
ALL_WRITERS = frozenset(AUTHOR_KINDS)
TYPES: dict[type, str] = {float: "float", int: "int", bool: "bool", str: "str"}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class SettingsError(Exception):
    """Base of every error the settings service raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One refused entry of a write: ``key=value`` breaks ``rule``."""

    key: str
    value: Any
    rule: str

    def __str__(self) -> str:
        return f"{self.key}={self.value!r} {self.rule}"


class SettingsValidationError(SettingsError, ValueError):
    """A write was refused; nothing was written. ``problems`` lists every broken rule."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.problems)


class SettingsConflict(SettingsError):
    """A write's expected parent version is not the latest; nothing was written."""

    def __init__(self, expected: int, latest: int, detail: str = "") -> None:
        self.expected = expected
        self.latest = latest
        msg = f"expected version {expected} but the latest is {latest}"
        super().__init__(f"{msg}{detail}; nothing was written, re-read and retry")


class UnknownVersion(SettingsError, LookupError):
    """A version id that the store does not hold."""

    def __init__(self, version: int, latest: int) -> None:
        self.version = version
        super().__init__(f"unknown settings version {version} (versions are 0..{latest})")


@dataclass(frozen=True)
class Param:
    """One tunable parameter.

    ``lo``/``hi`` bound numbers (inclusive unless ``lo_open``/``hi_open``);
    ``choices`` restricts strings. A ``protected`` param may be changed by a
    human only, whatever ``writers`` says.
    """

    key: str
    type: type
    lo: float | None = None
    hi: float | None = None
    unit: str = ""
    description: str = ""
    writers: frozenset[str] = ALL_WRITERS
    protected: bool = False
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise ValueError(f"param key {self.key!r} must be dotted identifiers")
        if self.type not in TYPES:
            raise ValueError(f"{self.key}: type must be one of float, int, bool, str")
        object.__setattr__(self, "writers", frozenset(self.writers))
        if not self.writers <= ALL_WRITERS or not self.writers:
            raise ValueError(f"{self.key}: writers must be a non-empty subset of {AUTHOR_KINDS}")
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise ValueError(f"{self.key}: lo={self.lo} must be <= hi={self.hi}")

    @property
    def allowed(self) -> frozenset[str]:
        """The author kinds that may change this param."""
        return frozenset({"human"}) if self.protected else self.writers

    @property
    def range_text(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.lo is None and self.hi is None:
            return ""
        left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        return f"{left}{lo}, {hi}{right}"

    def normalize(self, value: Any) -> Any:
        """``value`` as this param's type; raise ``ValueError(rule)`` if it is not acceptable."""
        if self.type is bool:
            if not isinstance(value, bool):
                raise ValueError("must be a bool (true or false)")
            return value
        if self.type is str:
            if not isinstance(value, str):
                raise ValueError("must be a string")
            if self.choices and value not in self.choices:
                raise ValueError(f"must be {self.range_text}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(self._number_rule(value))
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        if self.type is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("must be an integer")
            value = int(value)
        else:
            value = float(value)
        lo, hi = self.lo, self.hi
        if (lo is not None and (value < lo or (self.lo_open and value == lo))) or (
            hi is not None and (value > hi or (self.hi_open and value == hi))
        ):
            raise ValueError(f"must be in {self.range_text}")
        return value

    def _number_rule(self, value: Any) -> str:
        """What a value that is not a number breaks, with the type and range it must have."""
        rule = "must be an integer" if self.type is int else "must be a number"
        rule += f" in {self.range_text}" if self.range_text else ""
        if isinstance(value, str) and not value.isascii():
            rule += " written in ASCII digits (0-9 . e + -), not look-alike Unicode digits"
        return rule

    def parse(self, text: str) -> Any:
        """A command-line string as this param's type, or the string itself when it is not one
        (validation then refuses it with the usual message).

        Numbers must be ASCII: ``float()`` and ``int()`` also read other scripts' digits
        (full-width ``１``, mathematical ``𝟏.𝟓``, Arabic-Indic ``١``), which would let a value
        that does not read as the number it is written; such text stays a string and is refused.
        """
        if text.lower() in ("null", "none"):
            return None
        if self.type in (int, float) and not text.isascii():
            return text
        try:
            if self.type is bool:
                low = text.lower()
                if low in ("true", "yes", "on", "1"):
                    return True
                if low in ("false", "no", "off", "0"):
                    return False
                return text
            if self.type is int:
                number = float(text)
                return int(number) if number.is_integer() else number
            if self.type is float:
                return float(text)
        except ValueError:
            return text
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "type": TYPES[self.type],
            "lo": self.lo,
            "hi": self.hi,
            "lo_open": self.lo_open,
            "hi_open": self.hi_open,
            "choices": list(self.choices) if self.choices else None,
            "unit": self.unit,
            "description": self.description,
            "writers": sorted(self.allowed),
            "protected": self.protected,
        }


def author_kind_problem(author_kind: str) -> Problem | None:
    if author_kind in AUTHOR_KINDS:
        return None
    return Problem("author_kind", author_kind, f"must be one of {', '.join(AUTHOR_KINDS)}")


@dataclass(frozen=True)
class Check:
    """A cross-field rule over ``keys``: ``rule(values)`` returns the problems it finds.

    ``values`` holds the effective value of each of ``keys`` that some layer
    sets; a check runs only when a write touches one of its keys.
    """

    keys: tuple[str, ...]
    rule: Callable[[Mapping[str, Any]], list[Problem]]
    name: str = ""


def order_check(low: str, high: str) -> Check:
    """``low <= high`` (both keys' effective values)."""

    def rule(values: Mapping[str, Any]) -> list[Problem]:
        if low in values and high in values and values[low] > values[high]:
            return [Problem(low, values[low], f"must be <= {high}={values[high]!r}")]
        return []

    return Check((low, high), rule, f"{low} <= {high}")


@dataclass
class Schema:
    """The declared params (by key) and the cross-field checks.

    ``retired``: keys that were settings once, with why they are not any more. Setting one is
    refused with that reason; removing one (``None``) is allowed, and a rollback restores a
    version without it, so a stored version that still sets one never blocks a write.
    """

    params: dict[str, Param] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    retired: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        params: Iterable[Param],
        checks: Iterable[Check] = (),
        *,
        retired: Mapping[str, str] | None = None,
    ) -> Schema:
        schema = cls(retired=dict(retired or {}))
        schema.register(*params)
        for check in checks:
            schema.add_check(check)
        return schema

    def register(self, *params: Param) -> Schema:
        """Declare params; re-declaring a key the same way is a no-op, differently an error."""
        for param in params:
            old = self.params.get(param.key)
            if old is not None and old != param:
                raise ValueError(f"param {param.key} is already declared differently")
            self.params[param.key] = param
        return self

    def add_check(self, check: Check) -> Schema:
        unknown = [k for k in check.keys if k not in self.params]
        if unknown:
            raise ValueError(f"check {check.name or check.keys} names undeclared keys {unknown}")
        self.checks.append(check)
        return self

    def merge(self, other: Schema) -> Schema:
        """A new schema with both schemas' params and checks."""
        retired = {**self.retired, **other.retired}
        merged = Schema(dict(self.params), list(self.checks), retired)
        merged.register(*other.params.values())
        for key in merged.params:
            merged.retired.pop(key, None)
        for check in other.checks:
            if check not in merged.checks:
                merged.add_check(check)
        return merged

    def __contains__(self, key: object) -> bool:
        return key in self.params

    def __getitem__(self, key: str) -> Param:
        return self.params[key]

    def __iter__(self) -> Iterator[Param]:
        return iter(sorted(self.params.values(), key=lambda p: p.key))

    def __len__(self) -> int:
        return len(self.params)

    def validate(
        self,
        changes: Mapping[str, Any],
        *,
        author_kind: str,
        document: Mapping[str, Any],
        base: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Check ``changes`` (``None`` removes an override) merged over ``document``.

        ``base`` holds the lower layers' values (Hydra), which cross-field
        checks see under the overrides. Returns ``(normalized changes, new
        document)``; raises :class:`SettingsValidationError` listing every
        problem, each naming its key, value and rule.
        """
        bad_kind = author_kind_problem(author_kind)
        if bad_kind:
            raise SettingsValidationError([bad_kind])
        if not changes:
            raise SettingsValidationError([Problem("changes", {}, "must change at least one key")])
        problems: list[Problem] = []
        normalized: dict[str, Any] = {}
        for key, value in changes.items():
            try:
                normalized[key] = self._entry(key, value, author_kind)
            except ValueError as exc:
                problems.append(Problem(str(key), value, str(exc)))
        if problems:
            raise SettingsValidationError(problems)
        new = {k: v for k, v in {**document, **normalized}.items() if v is not None}
        self._check_rules(set(normalized), {**(base or {}), **new}, problems)
        if problems:
            raise SettingsValidationError(problems)
        return normalized, dict(sorted(new.items()))

    def _entry(self, key: str, value: Any, author_kind: str) -> Any:
        """One change normalized; ``ValueError(rule)`` when it is refused."""
        param = self.params.get(key) if isinstance(key, str) else None
        if param is None and key in self.retired:
            if value is None:
                return None
            raise ValueError(f"is no longer a setting: {self.retired[key]}")
        if param is None:
            raise ValueError("is not a known setting (see `schema`)")
        if author_kind not in param.allowed:
            who = "a human" if param.protected else " or ".join(sorted(param.allowed))
            kind = "is protected: " if param.protected else ""
            raise ValueError(f"{kind}only {who} may change it, not a {author_kind}")
        return None if value is None else param.normalize(value)

    def validate_document(
        self,
        document: Mapping[str, Any],
        *,
        author_kind: str,
        current: Mapping[str, Any],
        base: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Check a whole document (a rollback target) as a write over ``current``; the target's
        retired keys are left out (the rollback restores everything else)."""
        document = {k: v for k, v in document.items() if k not in self.retired}
        changes: dict[str, Any] = {k: v for k, v in document.items() if current.get(k) != v}
        changes.update({k: None for k in current if k not in document})
        if not changes:
            return dict(sorted(current.items()))
        return self.validate(changes, author_kind=author_kind, document=current, base=base)[1]

    def _check_rules(
        self, touched: set[str], values: Mapping[str, Any], problems: list[Problem]
    ) -> None:
        for check in self.checks:
            if touched & set(check.keys):
                present = {k: values[k] for k in check.keys if k in values}
                problems.extend(check.rule(present))

    def to_list(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self]

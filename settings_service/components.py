"""The settings schema of a composed configuration: every component's tunable fields.

``schema_for_config(cfg)`` walks a composed Hydra config (a plain nested
dict): each node whose ``_target_`` is in ``params.yaml`` contributes
``<node path>.<field>`` with that file's type, bounds, unit and writers. Every
strategy node (``strategies.<name>``) adds its protected ``enabled`` flag, and
the global protected keys (mode, kill switch, entries paused) are always there. The
engine and the CLI both call this, on the configuration they run with, so the
schema always matches what is composed (a strategy added in YAML is tunable at
once) and settings_service still imports nothing of ``engine``.

``params.yaml`` is generated from the components' own field declarations
(``python -m engine.tunables``), the ones the engine checks at start-up, so the store
refuses exactly what the engine would. A protected key is here only if the engine honours
it: ``mode.name`` takes the :data:`MODES` the engine runs (it checks the same constant).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from settings_service.schema import Check, Param, Schema, order_check

WRITERS = {
    "human": frozenset({"human"}),
    "governor": frozenset({"human", "governor"}),
    "all": frozenset({"human", "governor", "calibrator"}),
}
TYPES = {"float": float, "int": int, "bool": bool, "str": str}
# (low field, high field) pairs that must stay ordered within one component.
ORDERED = (("low", "high"), ("min_elapsed", "max_elapsed"), ("min_mult", "max_mult"),
           ("min_remaining_s", "max_remaining_s"))  # fmt: skip

# The modes the engine runs (engine.app refuses any other): add one here when its driver
# exists, and the store offers it at once.
MODES = ("paper", "backtest")
GLOBAL = [
    Param("mode.name", str, description="the driver: paper trades on the paper venue, backtest "
          "replays a corpus (live comes later)", writers=WRITERS["human"], protected=True, choices=MODES),
    Param("kill_switch", bool, description="stop opening positions and cancel working orders at once "
          "(open positions run to resolution)", writers=WRITERS["human"], protected=True),
    Param("entries_paused", bool, description="open no new positions (working orders and open positions "
          "carry on)", writers=WRITERS["human"], protected=True),
]  # fmt: skip
# The emergency switches: an engine applies them from every version it sees, even one it
# cannot build (it then keeps its last good version for everything else).
PROTECTED_SWITCHES = ("kill_switch", "entries_paused")
# Keys that were settings once and are no longer, with why: a write that sets one is refused,
# removing one is allowed, a rollback restores a version without it, and the engine reads a
# stored version that still sets one as if it did not.
RETIRED = {
    "dry_run": "nothing reads it (paper trading never sends an order); it returns with live orders",
}


@cache
def component_params() -> dict[str, dict[str, dict[str, Any]]]:
    """``params.yaml`` (generated from the engine's declarations: ``python -m engine.tunables``):
    target class -> field -> spec."""
    return yaml.safe_load((Path(__file__).with_name("params.yaml")).read_text())


def _nodes(node: Any, path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        if "_target_" in node:
            yield path, node
        for key, value in node.items():
            if not str(key).startswith("_"):
                yield from _nodes(value, f"{path}.{key}" if path else str(key))


def _param(key: str, spec: Mapping[str, Any]) -> Param:
    return Param(
        key,
        TYPES[spec["type"]],
        spec.get("lo"),
        spec.get("hi"),
        unit=spec.get("unit", ""),
        description=spec.get("description", ""),
        writers=WRITERS[spec.get("writers", "governor")],
        lo_open=bool(spec.get("lo_open", False)),
        hi_open=bool(spec.get("hi_open", False)),
    )


def schema_for_config(cfg: Mapping[str, Any]) -> Schema:
    """The schema of every tunable parameter in the composed config ``cfg`` (a plain dict)."""
    known = component_params()
    params: list[Param] = list(GLOBAL)
    checks: list[Check] = []
    for path, node in _nodes(cfg):
        fields = known.get(str(node["_target_"]), {})
        for field, spec in fields.items():
            params.append(_param(f"{path}.{field}", spec))
        for low, high in ORDERED:
            if low in fields and high in fields:
                checks.append(order_check(f"{path}.{low}", f"{path}.{high}"))
        if path.count(".") == 1 and path.startswith("strategies."):
            params.append(
                Param(
                    f"{path}.enabled",
                    bool,
                    description=f"strategy {path.split('.')[1]} proposes candidates",
                    writers=WRITERS["human"],
                    protected=True,
                )  # fmt: skip
            )
    return Schema.of(params, checks, retired=RETIRED)

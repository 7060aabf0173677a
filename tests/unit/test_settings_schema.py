"""settings_service/params.yaml says what each component accepts: check it against the components.

For every tunable field, the class must accept the schema's bounds and refuse
what lies just outside them, so the settings service never lets through a
value the engine would refuse at rebuild (or refuses one the engine takes).
"""

from __future__ import annotations

import pytest
from hydra.utils import get_class
from omegaconf import OmegaConf

from engine.core.sizers import FixedStake
from engine.core.validation import ConfigError
from settings_service.components import ORDERED, component_params, schema_for_config
from tests.unit.test_configs import cfg

NEEDS = {
    "engine.core.strategies.follow.FollowMirror": {
        "leaders": ["0xa"],
        "sizers": {"s": FixedStake()},
    },
}
STRATEGY_KW = {"sizers": {"s": FixedStake()}}


def cases():
    for target, fields in component_params().items():
        for field, spec in fields.items():
            if spec["type"] in ("float", "int"):
                yield pytest.param(target, field, spec, id=f"{target.rsplit('.', 1)[1]}.{field}")


def make(target: str, **kw):
    cls = get_class(target)
    base = NEEDS.get(target, STRATEGY_KW if ".strategies." in target else {})
    return cls(**{**base, **kw})


def with_partner(target: str, field: str, value: float) -> dict:
    """``{field: value}``, and an ordered partner field (low/high) at the same value, so the
    order rule never decides the outcome."""
    fields = component_params()[target]
    for low, high in ORDERED:
        if field in (low, high) and low in fields and high in fields:
            partner = high if field == low else low
            spec = fields[partner]
            return {field: value, partner: min(max(value, spec["lo"]), spec["hi"])}
    return {field: value}


@pytest.mark.parametrize(("target", "field", "spec"), list(cases()))
def test_component_accepts_exactly_the_schema_range(target, field, spec):
    lo, hi = spec.get("lo"), spec.get("hi")
    step = 1 if spec["type"] == "int" else 1e-6
    if lo is not None:
        inside = lo + step if spec.get("lo_open") else lo
        make(target, **with_partner(target, field, inside))
        with pytest.raises(ConfigError):
            make(target, **with_partner(target, field, lo if spec.get("lo_open") else lo - step))
    if hi is not None:
        inside = hi - step if spec.get("hi_open") else hi
        make(target, **with_partner(target, field, inside))
        with pytest.raises(ConfigError):
            make(target, **with_partner(target, field, hi if spec.get("hi_open") else hi + step))


def test_every_composed_component_with_fields_is_in_the_schema():
    schema = schema_for_config(OmegaConf.to_container(cfg(), resolve=False))
    keys = {p.key for p in schema}
    assert "strategies.updown.gates.sigma.min_sigma" in keys
    assert "venue.slippage_ticks" in keys and "run.bankroll" in keys
    assert all(p.protected for p in schema if p.key.endswith(".enabled"))

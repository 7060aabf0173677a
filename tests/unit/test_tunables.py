"""One declaration per tunable: the engine's start-up checks and the settings store agree.

Each tunable field is declared once on its class (``engine.core.validation.tunable``);
``settings_service/params.yaml`` is generated from those declarations (``engine.tunables``),
and the store builds its schema from that file. These tests walk every numeric key of the
composed configuration and check that the engine's builder and the store's schema accept and
refuse the same values with the same rule, that the file is what the generator writes, and
that the protected keys are only those the engine honours (``mode.name``: the modes it runs;
``dry_run``: gone).
"""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
from omegaconf import DictConfig, OmegaConf

from engine.app import MODES, build_components, build_loop
from engine.components import build
from engine.core.gates import SigmaGate
from engine.core.validation import ConfigError, check_declared, declared_fields, tunable
from engine.execution.paper import PaperVenue
from engine.settings_link import LiveSettings, SettingsConfig
from engine.tunables import PARAMS, render, tunables_of
from settings_service import SettingsStore
from settings_service.components import (
    ORDERED,
    _nodes,
    component_params,
    schema_for_config,
)
from settings_service.default_schema import default_schema
from settings_service.schema import Param, Schema, SettingsValidationError
from tests.unit.test_configs import CONF, cfg

SIGMA = "strategies.updown.gates.sigma.min_sigma"
# Beyond the default composition, so that every class params.yaml lists is composed once.
EXTRA = (
    "+gate@strategies.updown.gates.vol_band=vol_band",
    "+gate@strategies.updown.gates.time_to_expiry=time_to_expiry",
    "+strategy@strategies.sample=sample",
)


@pytest.fixture(scope="module")
def composed() -> DictConfig:
    return cfg(*EXTRA)


@pytest.fixture(scope="module")
def schema(composed) -> Schema:
    return schema_for_config(OmegaConf.to_container(composed, resolve=False))


# -- the generated file -------------------------------------------------------------------


def test_params_yaml_is_what_the_generator_writes_from_the_declarations():
    assert PARAMS.read_text() == render(PARAMS.read_text()), (
        "settings_service/params.yaml is out of date: run `python -m engine.tunables`"
    )


def test_the_generator_rewrites_stale_blocks_and_drops_classes_that_are_gone():
    stale = "engine.core.gates.SigmaGate:\n  min_sigma: {type: float, lo: 0.0, hi: 99.0}\n"
    gone = "engine.core.gates.NoSuchGate:\n  x: {type: float}\n"
    text = render(stale + gone, targets=["engine.core.gates.SigmaGate"])
    assert "hi: 99.0" not in text and "NoSuchGate" not in text
    assert (
        "  min_sigma: {type: float, lo: 0.0, hi: 10.0, unit: sigma, writers: all, "
        'description: "fire only when |z| >= min_sigma"}\n'
    ) in text
    assert render(text, targets=["engine.core.gates.SigmaGate"]) == text


def test_every_class_the_file_lists_is_composed_and_every_declared_field_is_a_key(composed, schema):
    nodes = {}
    for path, node in _nodes(OmegaConf.to_container(composed, resolve=False)):
        nodes.setdefault(node["_target_"], []).append(path)
    assert set(component_params()) <= set(nodes), "compose every listed class in EXTRA"
    for target, paths in nodes.items():
        for d in tunables_of(target):
            for path in paths:
                assert f"{path}.{d.name}" in schema, f"{target}.{d.name} is not in params.yaml"


# -- start-up and the store refuse the same values ----------------------------------------


def test_every_tunable_key_is_validated_the_same_by_the_engine_and_the_store(composed, schema):
    keys = [p.key for p in schema if p.type in (int, float)]
    assert len(keys) > 100 and SIGMA in keys and "strategies.updown.lookback_s" in keys
    mismatches = []
    for key in keys:
        param = schema[key]
        for value, ok in cases(param):
            changes = {key: value, **partner(schema, key, value)}
            engine, component = engine_verdict(composed, changes)
            store = store_verdict(schema, changes)
            if ok:
                held = getattr(component, key.rpartition(".")[2], None)
                if engine or store or held != value or type(held) is not param.type:
                    mismatches.append(
                        f"{key}={value!r}: engine {engine} (holds {held!r}), store {store}"
                    )
                continue
            if engine is None or store is None or engine[0] != key or store[0] != key:
                mismatches.append(f"{key}={value!r}: engine {engine}, store {store}")
            elif same(engine[1]) != same(store[1]):
                # Every rule is the store's, word for word (up to number formatting).
                mismatches.append(f"{key}={value!r}: engine {engine[1]!r} != {store[1]!r}")
    assert not mismatches, "\n".join(mismatches)


def cases(param: Param) -> list[tuple[object, bool]]:
    """``(value, accepted)`` at and just past each bound; for an int, a fraction (refused) and
    a whole float (accepted); a bool and NaN (refused everywhere)."""
    step = 1 if param.type is int else 1e-6
    lo, hi = param.lo, param.hi
    out: list[tuple[object, bool]] = []
    if lo is not None:
        out += (
            [(lo + step, True), (lo, False)] if param.lo_open else [(lo, True), (lo - step, False)]
        )
    if hi is not None:
        out += (
            [(hi - step, True), (hi, False)] if param.hi_open else [(hi, True), (hi + step, False)]
        )
    if param.type is int:
        inside = out[0][0]
        out += [(inside + 0.5, False), (float(inside), True)]
    return [*out, (True, False), (math.nan, False)]


def finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def partner(schema: Schema, key: str, value: object) -> dict:
    """The ordered partner of ``key`` (low/high) at ``value`` clamped to its own bounds, so the
    order rule never decides a case."""
    path, _, field = key.rpartition(".")
    if not finite(value):
        return {}
    for low, high in ORDERED:
        if field in (low, high) and f"{path}.{low}" in schema and f"{path}.{high}" in schema:
            other = schema[f"{path}.{high if field == low else low}"]
            return {other.key: other.type(min(max(value, other.lo), other.hi))}
    return {}


def engine_verdict(composed: DictConfig, changes: dict) -> tuple[tuple[str, str] | None, object]:
    """``(field, rule)`` of the builder's refusal of the component node with ``changes``, or
    None and the component it built."""
    path = next(iter(changes)).rpartition(".")[0]
    plain = OmegaConf.to_container(OmegaConf.select(composed, path), resolve=True)
    for chain in ("gates", "sizers"):  # a strategy: its chains are walked at their own keys
        if isinstance(plain.get(chain), dict):
            plain[chain] = dict(list(plain[chain].items())[:1])
    node = OmegaConf.create(plain)
    for key, value in changes.items():
        node[key.rpartition(".")[2]] = value
    try:
        return None, build(node, path)
    except ConfigError as exc:
        return (exc.field, exc.rule), None


def store_verdict(schema: Schema, changes: dict) -> tuple[str, str] | None:
    try:
        schema.validate(changes, author_kind="human", document={})
    except SettingsValidationError as err:
        assert len(err.problems) == 1, err
        return err.problems[0].key, err.problems[0].rule
    return None


def same(rule: str) -> str:
    """A rule with its numbers written one way (the store writes ``[0, 1e+06]``, the engine
    ``[0.0, 1000000.0]``)."""
    return re.sub(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?", lambda m: repr(float(m.group())), rule)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("strategies.updown.lookback_s=2.5", "strategies.updown.lookback_s=2.5 must be an integer"),
        ("venue.slippage_ticks=1.5", "venue.slippage_ticks=1.5 must be an integer"),
    ],
)
def test_a_fraction_for_an_int_field_stops_the_engine_at_start_up(override, message):
    key, _, value = override.partition("=")
    with pytest.raises(ConfigError) as err:
        build_loop(cfg(override), sessions=None)
    assert str(err.value) == message
    with pytest.raises(SettingsValidationError) as refused:
        default_schema().validate({key: float(value)}, author_kind="human", document={})
    assert str(refused.value) == message


def test_the_declaration_checks_type_and_bounds_of_a_directly_built_component():
    with pytest.raises(ConfigError, match=r"^slippage_ticks=1\.5 must be an integer$"):
        PaperVenue(slippage_ticks=1.5)
    with pytest.raises(
        ConfigError, match=r"^slippage_ticks=True must be an integer in \[0, 100\]$"
    ):
        PaperVenue(slippage_ticks=True)
    with pytest.raises(ConfigError, match=r"^slippage_ticks=101 must be in \[0, 100\]$"):
        PaperVenue(slippage_ticks=101)
    venue = PaperVenue(slippage_ticks=2.0)
    assert venue.slippage_ticks == 2 and type(venue.slippage_ticks) is int
    assert venue.limit_for(0.5) == 0.52  # on the tick grid
    with pytest.raises(ConfigError, match=r"^min_sigma=nan must be a finite number$"):
        SigmaGate(min_sigma=math.nan)
    with pytest.raises(ConfigError, match=r"^min_sigma=True must be a number in \[0\.0, 10\.0\]$"):
        SigmaGate(min_sigma=True)
    assert SigmaGate(min_sigma=2).min_sigma == 2


def test_a_declaration_must_be_an_int_or_float_field():
    @dataclasses.dataclass(frozen=True)
    class Bad:
        name: str = tunable("x", lo=0, hi=1, unit="", writers="human", description="")

    with pytest.raises(TypeError, match="a tunable must be an init field annotated int or float"):
        check_declared(Bad())
    with pytest.raises(ValueError, match="writers='bot' must be one of"):
        tunable(1.0, lo=0.0, hi=1.0, writers="bot")

    @dataclasses.dataclass(frozen=True)
    class Plain:
        count: int = 3  # not tunable: only its type is checked

    assert [d.name for d in declared_fields(Plain)] == ["count"]
    with pytest.raises(ConfigError, match=r"^count=0\.5 must be an integer$"):
        check_declared(Plain(count=0.5))


# -- protected keys are the ones the engine honours ---------------------------------------


def test_the_store_offers_only_the_modes_the_engine_runs(composed):
    assert MODES == ("paper", "backtest")
    assert default_schema()["mode.name"].choices == MODES
    assert all((CONF / "mode" / f"{mode}.yaml").exists() for mode in MODES)
    default_schema().validate({"mode.name": "paper"}, author_kind="human", document={})
    with pytest.raises(SettingsValidationError) as refused:
        default_schema().validate({"mode.name": "live"}, author_kind="human", document={})
    assert str(refused.value) == "mode.name='live' must be one of paper, backtest"
    other = OmegaConf.merge(composed, {"mode": {"name": "live"}})
    with pytest.raises(
        ConfigError, match=r"^mode\.name='live' must be one of \['paper', 'backtest'\]"
    ):
        build_loop(other, sessions=None)


def test_dry_run_is_not_a_setting_any_more(composed):
    assert "dry_run" not in composed
    assert "dry_run" not in default_schema()
    with pytest.raises(SettingsValidationError) as refused:
        default_schema().validate({"dry_run": True}, author_kind="human", document={})
    assert str(refused.value).startswith("dry_run=True is no longer a setting: ")


def test_a_stored_version_that_still_sets_dry_run_is_read_without_it(sqlite_url, composed):
    # A store written before dry_run was dropped: its latest version sets it.
    before = default_schema().merge(
        Schema.of([Param("dry_run", bool, writers={"human"}, protected=True)])
    )
    with SettingsStore(sqlite_url, schema=before) as store:
        store.write(
            {"dry_run": True, SIGMA: 2.0},
            author="ops",
            author_kind="human",
            reason="before the upgrade",
            expected_version=0,
        )
    # The engine starts on it and ignores dry_run (nothing reads it).
    settings = LiveSettings(composed, sqlite_url, SettingsConfig())
    try:
        version, components = settings.start(build_components)
        assert version == 1 and settings.store.history()[0].document["dry_run"] is True
        assert components.strategies[0].gates["sigma"].min_sigma == 2.0
        assert "dry_run" not in settings.config_for({"dry_run": True, SIGMA: 2.0})
    finally:
        settings.stop()
    # Today's store refuses to set it, but other writes, rollbacks and its removal go through.
    with SettingsStore(sqlite_url) as store:
        with pytest.raises(SettingsValidationError, match=r"^dry_run=False is no longer a setting"):
            store.write(
                {"dry_run": False},
                author="ops",
                author_kind="human",
                reason="r",
                expected_version=1,
            )
        v2 = store.write(
            {SIGMA: 2.5}, author="ops", author_kind="human", reason="r", expected_version=1
        )
        assert v2.document == {"dry_run": True, SIGMA: 2.5}
        v3 = store.write(
            {"dry_run": None}, author="ops", author_kind="human", reason="r", expected_version=2
        )
        assert v3.document == {SIGMA: 2.5}
        # A rollback to a version that set it restores the rest of that version.
        assert store.rollback(1, author="ops", reason="r").document == {SIGMA: 2.0}

"""Params and write validation: every refusal names the key, the value and the rule."""

from __future__ import annotations

import math

import pytest

from settings_service import Check, Param, Problem, Schema, SettingsValidationError, order_check
from settings_service.default_schema import default_schema

SIGMA = "strategies.updown.gates.sigma.min_sigma"
LOW = "strategies.updown.gates.dead_zone.low"
HIGH = "strategies.updown.gates.dead_zone.high"
KELLY = "strategies.updown.sizers.kelly.kelly_fraction"
LOOKBACK = "strategies.updown.lookback_s"


def refuse(changes, *, author_kind="human", document=None, base=None) -> SettingsValidationError:
    with pytest.raises(SettingsValidationError) as info:
        default_schema().validate(
            changes, author_kind=author_kind, document=document or {}, base=base
        )
    return info.value


def test_the_default_schema_declares_the_engines_params():
    keys = {p.key for p in default_schema()}
    assert {
        "strategies.updown.lookback_s",
        "strategies.updown.eval_every_s",
        "strategies.updown.min_elapsed_s",
        "strategies.updown.min_remaining_s",
        SIGMA,
        LOW,
        HIGH,
        "strategies.updown.gates.max_odds.max_price",
        "strategies.updown.gates.min_edge.min_edge",
        KELLY,
        "strategies.updown.sizers.stake_cap.max_stake",
        "strategies.updown.sizers.stake_cap.max_bankroll_fraction",
        "venue.slippage_ticks",
        "run.bankroll",
        "mode.name",
        "strategies.updown.enabled",
        "kill_switch",
        "entries_paused",
    } <= keys
    assert "dry_run" not in keys  # nothing reads it (tests/unit/test_tunables.py)
    # Every composed strategy is tunable, with its gates and sizers.
    for name in ("updown", "itm", "follow", "news", "negrisk"):
        assert f"strategies.{name}.enabled" in keys
    assert "strategies.itm.gates.max_odds.max_price" in keys
    assert "strategies.news.classifier.per_hit" in keys
    assert "strategies.negrisk.gates.arb_profit.min_profit" in keys
    protected = {p.key for p in default_schema() if p.protected}
    assert protected == {"mode.name", "kill_switch", "entries_paused"} | {
        f"strategies.{n}.enabled" for n in ("updown", "itm", "follow", "news", "negrisk")
    }


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        (SIGMA, "2", "must be a number"),
        (SIGMA, True, "must be a number"),
        (SIGMA, math.nan, "must be a finite number"),
        (SIGMA, math.inf, "must be a finite number"),
        (SIGMA, 10.5, "must be in [0, 10]"),
        (SIGMA, -0.1, "must be in [0, 10]"),
        (KELLY, 0.0, "must be in (0, 1]"),
        (LOOKBACK, 2.5, "must be an integer"),
        (LOOKBACK, 0, "must be in [1, 600]"),
        ("kill_switch", 1, "must be a bool"),
        ("mode.name", "yolo", "must be one of paper"),
        ("mode.name", "live", "must be one of paper"),  # only the modes the engine runs
        ("mode.name", 3, "must be a string"),
        ("no.such.key", 1, "is not a known setting"),
    ],
)
def test_a_bad_value_is_refused_naming_key_value_and_rule(key, value, rule):
    err = refuse({key: value})
    assert err.keys == (key,)
    assert str(err).startswith(f"{key}={value!r} ")
    assert rule in str(err)


def test_numbers_are_normalized_to_the_declared_type():
    schema = default_schema()
    changes, doc = schema.validate(
        {SIGMA: 2, LOOKBACK: 45.0, KELLY: 1}, author_kind="human", document={}
    )
    assert changes == {SIGMA: 2.0, LOOKBACK: 45, KELLY: 1.0}
    assert type(doc[SIGMA]) is float and type(doc[LOOKBACK]) is int
    assert list(doc) == sorted(doc)


@pytest.mark.parametrize("kind", ["governor", "calibrator"])
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mode.name", "paper"),
        ("kill_switch", True),
        ("entries_paused", True),
        ("strategies.updown.enabled", False),
    ],
)
def test_protected_keys_refuse_everyone_but_a_human(kind, key, value):
    err = refuse({key: value}, author_kind=kind)
    assert f"{key}={value!r} is protected: only a human may change it, not a {kind}" == str(err)
    # removing the override is a change too
    assert refuse({key: None}, author_kind=kind).keys == (key,)
    default_schema().validate({key: value}, author_kind="human", document={})


def test_writers_limit_who_may_change_a_param():
    err = refuse({KELLY: 0.1}, author_kind="calibrator")
    assert "only governor or human may change it, not a calibrator" in str(err)
    default_schema().validate({SIGMA: 2.0}, author_kind="calibrator", document={})
    assert "only human" in str(refuse({"run.bankroll": 5.0}, author_kind="governor"))


def test_every_problem_of_a_write_is_listed():
    err = refuse({SIGMA: "x", "bogus": 1, "kill_switch": True}, author_kind="governor")
    assert set(err.keys) == {SIGMA, "bogus", "kill_switch"}
    assert all(isinstance(p, Problem) for p in err.problems)


def test_none_removes_an_override():
    _, doc = default_schema().validate(
        {SIGMA: None, KELLY: 0.5}, author_kind="human", document={SIGMA: 2.0}
    )
    assert doc == {KELLY: 0.5}


def test_dead_zone_low_must_not_exceed_high_across_layers():
    err = refuse({LOW: 0.6}, base={LOW: 0.42, HIGH: 0.58})
    assert str(err) == f"{LOW}=0.6 must be <= {HIGH}=0.58"
    err = refuse({HIGH: 0.3}, document={LOW: 0.4})
    assert err.keys == (LOW,)
    default_schema().validate(
        {LOW: 0.6, HIGH: 0.7}, author_kind="human", document={}, base={HIGH: 0.58}
    )
    # a check runs only when the write touches its keys
    default_schema().validate({SIGMA: 2.0}, author_kind="human", document={LOW: 0.7, HIGH: 0.6})


def test_author_kind_and_empty_writes_are_refused():
    assert "author_kind='robot'" in str(refuse({SIGMA: 2.0}, author_kind="robot"))
    assert "must change at least one key" in str(refuse({}))


def test_register_merge_and_checks():
    schema = Schema.of([Param("a.x", float, 0, 1)])
    schema.register(Param("a.x", float, 0, 1))  # same declaration: fine
    with pytest.raises(ValueError, match="already declared differently"):
        schema.register(Param("a.x", float, 0, 2))
    other = Schema.of([Param("a.y", float, 0, 1)], [order_check("a.y", "a.y")])
    merged = schema.merge(other)
    assert [p.key for p in merged] == ["a.x", "a.y"] and len(merged.checks) == 1
    assert "a.y" not in schema
    with pytest.raises(ValueError, match="undeclared"):
        schema.add_check(Check(("a.z",), lambda v: []))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key": "bad key", "type": float},
        {"key": "a.b", "type": list},
        {"key": "a.b", "type": float, "lo": 2, "hi": 1},
        {"key": "a.b", "type": float, "writers": {"robot"}},
    ],
)
def test_bad_param_declarations_fail(kwargs):
    with pytest.raises(ValueError):
        Param(**kwargs)


def test_protected_overrides_writers():
    p = Param("a.b", bool, writers={"human", "governor"}, protected=True)
    assert p.allowed == {"human"}


@pytest.mark.parametrize(
    ("type_", "text", "value"),
    [
        (float, "1.5", 1.5),
        (float, "abc", "abc"),
        (int, "30", 30),
        (int, "2.5", 2.5),
        (bool, "true", True),
        (bool, "off", False),
        (bool, "maybe", "maybe"),
        (str, "live", "live"),
        (float, "null", None),
    ],
)
def test_parse_command_line_values(type_, text, value):
    parsed = Param("a.b", type_).parse(text)
    assert parsed == value and type(parsed) is type(value)

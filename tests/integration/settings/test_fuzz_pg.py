"""Hypothesis: random writes on PostgreSQL. Every invalid write is refused with a message naming
the offending key, and the store is unchanged; every valid one lands exactly."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settings_service import SettingsStore, SettingsValidationError
from settings_service.default_schema import default_schema

pytestmark = pytest.mark.postgres

SCHEMA = default_schema()
PARAMS = list(SCHEMA)
ORDERED_KEYS = {key for check in SCHEMA.checks for key in check.keys}
KINDS = ["human", "governor", "calibrator"]
LOW = "strategies.updown.gates.dead_zone.low"
HIGH = "strategies.updown.gates.dead_zone.high"
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

any_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
)


def valid_value(param):
    """Values the param accepts (strategy), ignoring who writes them."""
    if param.type is bool:
        return st.booleans()
    if param.type is str:
        return st.sampled_from(param.choices or ("x",))
    lo = param.lo if param.lo is not None else -1e6
    hi = param.hi if param.hi is not None else 1e6
    if param.type is int:
        return st.integers(int(math.ceil(lo)), int(math.floor(hi)))
    return st.floats(lo, hi, exclude_min=param.lo_open, exclude_max=param.hi_open)


@st.composite
def invalid_entry(draw):
    """(key, value, author_kind) that the schema must refuse, whatever the rest of the write."""
    how = draw(st.sampled_from(["unknown", "type", "bounds", "protected", "writer"]))
    kind = draw(st.sampled_from(KINDS))
    if how == "unknown":
        key = draw(st.from_regex(r"[a-z_]{1,6}(\.[a-z_]{1,6}){0,3}", fullmatch=True))
        if key in SCHEMA:
            key = f"zz_{key}"
        return key, draw(any_value), kind
    if how == "protected":
        param = draw(st.sampled_from([p for p in PARAMS if p.protected]))
        return (
            param.key,
            draw(valid_value(param)),
            draw(st.sampled_from(["governor", "calibrator"])),
        )
    if how == "writer":
        param = draw(st.sampled_from([p for p in PARAMS if p.allowed != set(KINDS)]))
        bad = sorted(set(KINDS) - param.allowed)
        return param.key, draw(valid_value(param)), draw(st.sampled_from(bad))
    param = draw(st.sampled_from(PARAMS))
    kind = draw(st.sampled_from(sorted(param.allowed)))
    if how == "type":
        if param.type is bool:
            wrong = st.one_of(st.integers(), st.floats(), st.text(max_size=4))
        elif param.type is str:
            wrong = st.one_of(st.integers(), st.floats(), st.booleans())
        else:
            wrong = st.one_of(
                st.booleans(), st.text(max_size=4), st.lists(st.integers(), max_size=2)
            )
            if param.type is int:
                wrong = st.one_of(wrong, st.floats(0.01, 0.99).map(lambda f: param.lo + f))
        return param.key, draw(wrong), kind
    # bounds
    if param.type in (bool, str):
        return param.key, draw(st.just("not-a-choice") if param.type is str else st.just(2)), kind
    out = st.sampled_from([math.nan, math.inf, -math.inf])
    if param.hi is not None:
        out = st.one_of(out, st.floats(param.hi, 1e12, exclude_min=not param.hi_open))
    if param.lo is not None:
        out = st.one_of(out, st.floats(-1e12, param.lo, exclude_max=not param.lo_open))
    return param.key, draw(out), kind


@st.composite
def valid_changes(draw, kind):
    # Keys under a cross-field rule (low <= high pairs) are drawn together below, or not at all.
    params = [p for p in PARAMS if kind in p.allowed and p.key not in ORDERED_KEYS]
    chosen = draw(
        st.lists(st.sampled_from(params), min_size=0, max_size=4, unique_by=lambda p: p.key)
    )
    changes = {p.key: draw(st.one_of(st.none(), valid_value(p))) for p in chosen}
    if draw(st.booleans()) and kind in SCHEMA[LOW].allowed:
        low = draw(st.floats(0.0, 1.0))
        changes[LOW] = low
        changes[HIGH] = draw(st.floats(low, 1.0))
    return changes


@pytest.fixture
def seeded(settings_pg_url):
    store = SettingsStore(settings_pg_url)
    store.write(
        {LOW: 0.4, HIGH: 0.6, "strategies.updown.gates.sigma.min_sigma": 1.7, "kill_switch": False},
        author="seed",
        author_kind="human",
        reason="seed",
        expected_version=0,
    )
    yield store
    store.close()


@FUZZ
@given(data=st.data())
def test_invalid_writes_are_refused_naming_the_key_and_change_nothing(seeded, data):
    key, value, kind = data.draw(invalid_entry())
    others = data.draw(valid_changes(kind))
    others.pop(key, None)
    changes = {**others, key: value}
    before = seeded.current()
    with pytest.raises(SettingsValidationError) as info:
        seeded.write(
            changes, author="fuzz", author_kind=kind, reason="fuzz", expected_version=before.id
        )
    assert key in info.value.keys
    assert f"{key}=" in str(info.value)
    after = seeded.current()
    assert (after.id, after.document) == (before.id, before.document)


@FUZZ
@given(data=st.data())
def test_a_dead_zone_with_low_above_high_is_refused(seeded, data):
    high = data.draw(st.floats(0.0, 0.99))
    low = data.draw(st.floats(high, 1.0, exclude_min=True))
    keys = data.draw(st.sampled_from([(LOW,), (HIGH,), (LOW, HIGH)]))
    changes = {k: v for k, v in {LOW: low, HIGH: high}.items() if k in keys}
    before = seeded.current()
    doc = {**before.document, **changes}
    if doc[LOW] <= doc[HIGH]:
        return
    with pytest.raises(SettingsValidationError, match=LOW):
        seeded.write(
            changes, author="fuzz", author_kind="calibrator", reason="f", expected_version=before.id
        )
    assert seeded.current().id == before.id


@FUZZ
@given(data=st.data())
def test_valid_writes_land_exactly(seeded, data):
    kind = data.draw(st.sampled_from(KINDS))
    changes = data.draw(valid_changes(kind))
    if not changes:
        return
    before = seeded.current()
    doc = {k: v for k, v in {**before.document, **changes}.items() if v is not None}
    if doc.get(LOW, 0.42) > doc.get(HIGH, 0.58):
        return
    version = seeded.write(
        changes, author="fuzz", author_kind=kind, reason="f", expected_version=before.id
    )
    assert version.id == before.id + 1
    assert seeded.current().document == doc
    assert all(seeded.current().document.get(k) == v for k, v in changes.items() if v is not None)

import numpy as np
import pytest

from engine.core.gates import (
    DeadZoneGate,
    MaxOddsGate,
    MinEdgeGate,
    MinOddsGate,
    SigmaGate,
    apply_gates,
)
from engine.core.validation import ConfigError
from tests.unit.core.frames import make_frame


def test_sigma_gate_fires_at_exactly_min_sigma_either_direction():
    frame = make_frame(5, z=[1.4999, 1.5, -1.5, -1.4999, 3.0])
    passed, value = SigmaGate(min_sigma=1.5).check(frame)
    assert passed.tolist() == [False, True, True, False, True]
    assert value.tolist() == pytest.approx([1.4999, 1.5, 1.5, 1.4999, 3.0])


def test_dead_zone_rejects_its_inclusive_bounds_and_passes_outside():
    frame = make_frame(6, price=[0.41, 0.42, 0.50, 0.58, 0.59, 0.90])
    passed, _ = DeadZoneGate(low=0.42, high=0.58).check(frame)
    assert passed.tolist() == [True, False, False, False, True, True]


def test_max_and_min_odds_are_inclusive_on_the_passing_side():
    frame = make_frame(3, price=[0.84, 0.85, 0.86])
    assert MaxOddsGate(max_price=0.85).check(frame)[0].tolist() == [True, True, False]
    frame = make_frame(3, price=[0.04, 0.05, 0.06])
    assert MinOddsGate(min_price=0.05).check(frame)[0].tolist() == [False, True, True]


def test_min_edge_uses_edge_after_fees():
    frame = make_frame(3, edge=[0.0199, 0.02, 0.10])
    assert MinEdgeGate(min_edge=0.02).check(frame)[0].tolist() == [False, True, True]


def test_first_failing_gate_is_the_recorded_reason_with_its_value():
    frame = make_frame(4, z=[0.5, 2.0, 2.0, 2.0], price=[0.5, 0.5, 0.90, 0.30])
    gates = {"sigma": SigmaGate(1.5), "dead_zone": DeadZoneGate(), "max_odds": MaxOddsGate(0.85)}
    apply_gates(frame, gates)
    assert frame.reason.tolist() == ["gate.sigma", "gate.dead_zone", "gate.max_odds", None]
    assert frame.reason_value[:3].tolist() == pytest.approx([0.5, 0.5, 0.90])
    assert frame.accepted.tolist() == [False, False, False, True]


def test_nan_never_passes_a_gate():
    frame = make_frame(1, z=[np.nan])
    apply_gates(frame, {"sigma": SigmaGate(1.5)})
    assert frame.reason.tolist() == ["gate.sigma"]


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: DeadZoneGate(low=0.6, high=0.58), "low=0.6 must be <= high=0.58"),
        (lambda: SigmaGate(min_sigma=-1), "min_sigma=-1 must be in [0.0, 10.0]"),
        (lambda: MaxOddsGate(max_price=1.5), "max_price=1.5 must be in (0.0, 1.0]"),
        (lambda: MinEdgeGate(min_edge="x"), "min_edge='x' must be a number in [-1.0, 1.0]"),
    ],
)
def test_bad_gate_config_names_field_value_and_range(factory, message):
    with pytest.raises(ConfigError) as err:
        factory()
    assert str(err.value) == message

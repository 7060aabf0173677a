"""Numbers typed as text must be ASCII: Python's float() and int() also read other scripts'
digits, so `𝟏.𝟓` would be stored as 1.5 while reading as something else."""

from __future__ import annotations

import pytest

from settings_service import SettingsValidationError, default_schema

SIGMA = "strategies.updown.gates.sigma.min_sigma"  # float in [0, 10]
LOOKBACK = "strategies.updown.lookback_s"  # int in [1, 600]
LOOKALIKES = [
    "𝟏.𝟓",  # mathematical bold digits
    "１.５",  # full-width
    "١٫٥",  # Arabic-Indic digits and decimal separator
    "١",
    "۱",  # extended Arabic-Indic (Persian)
    "१",  # Devanagari
    "\u00a01.5",  # a non-breaking space before ASCII digits
    "1.5\u2009",  # a thin space after
]


@pytest.mark.parametrize("text", LOOKALIKES)
@pytest.mark.parametrize(("key", "kind", "range_"), [(SIGMA, "number", "[0, 10]"), (LOOKBACK, "integer", "[1, 600]")])  # fmt: skip
def test_lookalike_digits_are_not_numbers(text, key, kind, range_):
    float(text.strip().replace("٫", "."))  # the bug: Python reads them as numbers
    schema = default_schema()
    parsed = schema[key].parse(text)
    assert parsed == text  # kept as text, so validation refuses it
    with pytest.raises(SettingsValidationError) as err:
        schema.validate({key: parsed}, author_kind="human", document={})
    (problem,) = err.value.problems
    assert (problem.key, problem.value) == (key, text)
    assert problem.rule == (
        f"must be {'an' if kind == 'integer' else 'a'} {kind} in {range_} "
        "written in ASCII digits (0-9 . e + -), not look-alike Unicode digits"
    )


@pytest.mark.parametrize(("text", "value"), [("1.5", 1.5), ("2", 2.0), ("1e0", 1.0), (" 3 ", 3.0)])
def test_ascii_numbers_still_parse(text, value):
    assert default_schema()[SIGMA].parse(text) == value


def test_a_lookalike_flag_is_not_a_bool():
    schema = default_schema()
    assert schema["kill_switch"].parse("１") == "１"  # full-width 1 is not "1"
    with pytest.raises(SettingsValidationError, match="must be a bool"):
        schema.validate({"kill_switch": "１"}, author_kind="human", document={})

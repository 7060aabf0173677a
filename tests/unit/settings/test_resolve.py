"""Layers, lowest first: Hydra defaults < run overrides < the latest settings version."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from settings_service import LAYERS, SettingsError, Version, resolve, uses_database
from settings_service.resolve import default_conf_dir, hydra_layers, select_keys

ROOT = Path(__file__).resolve().parents[3]
SIGMA = "strategies.updown.gates.sigma.min_sigma"
KELLY = "strategies.updown.sizers.kelly.kelly_fraction"
V4 = Version(
    4, 3, datetime(2026, 1, 5, 12, 0, tzinfo=UTC), "alice", "human", "chop", {SIGMA: 2.5}, {}
)


def test_each_layer_wins_over_the_ones_below():
    got = resolve(
        [SIGMA, KELLY, "venue.slippage_ticks", "kill_switch"],
        defaults={SIGMA: 1.5, KELLY: 0.25, "venue.slippage_ticks": 1},
        overrides={SIGMA: 2.0, KELLY: 0.2},
        document={SIGMA: 2.5},
        setters={SIGMA: V4},
    )
    assert (got[SIGMA].value, got[SIGMA].layer, got[SIGMA].version) == (2.5, LAYERS[2], V4)
    assert got[SIGMA].layers == {LAYERS[0]: 1.5, LAYERS[1]: 2.0, LAYERS[2]: 2.5}
    assert (got[KELLY].value, got[KELLY].layer, got[KELLY].version) == (0.2, LAYERS[1], None)
    assert got["venue.slippage_ticks"].layer == "hydra defaults"
    assert got["kill_switch"].layer is None and got["kill_switch"].source == "unset"
    assert got[SIGMA].source == "v4 alice (human)"


def test_explain_text_says_who_when_and_why():
    text = str(
        resolve([SIGMA], defaults={SIGMA: 1.5}, document={SIGMA: 2.5}, setters={SIGMA: V4})[SIGMA]
    )
    assert "strategies.updown.gates.sigma.min_sigma = 2.5" in text
    assert "settings version 4, by alice (human) at 2026-01-05T12:00:00+00:00" in text
    assert "why: chop" in text


def test_backtests_ignore_the_database_unless_asked():
    assert uses_database("paper") and uses_database("live")
    assert not uses_database("backtest")
    assert uses_database("backtest", asked=True)


def test_select_keys_walks_nested_mappings():
    cfg = {"a": {"b": {"c": 1}}, "x": 2}
    assert select_keys(cfg, ["a.b.c", "x", "a.b.d", "x.y"]) == {"a.b.c": 1, "x": 2}


def test_hydra_layers_compose_the_engines_conf():
    conf = ROOT / "conf"
    assert default_conf_dir() == conf
    defaults, run = hydra_layers(
        conf, [SIGMA, KELLY, "mode.name"], [f"{SIGMA}=2.0", f"{KELLY}=0.25"]
    )
    assert defaults[SIGMA] == 1.5 and defaults["mode.name"] == "paper"
    # an override names KELLY with its default value: still the override layer's
    assert run == {SIGMA: 2.0, KELLY: 0.25}
    with pytest.raises(SettingsError, match="cannot compose"):
        hydra_layers(conf, [SIGMA], ["no_such_group=x"])

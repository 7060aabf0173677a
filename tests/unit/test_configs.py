"""Compose the Hydra config and build every option of every group (real composition)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from engine.app import build_loop
from engine.components import build
from engine.core.validation import ConfigError

CONF = Path(__file__).resolve().parents[2] / "conf"


def cfg(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_default_composition_builds_the_paper_engine():
    driver = build_loop(cfg(), sessions=None)
    names = [s.name for s in driver.strategies]
    assert names == ["updown", "itm", "follow", "news", "negrisk"]
    strategy = driver.strategies[0]
    assert list(strategy.gates) == [
        "staleness",
        "sigma",
        "dead_zone",
        "max_odds",
        "min_edge",
        "liquidity",
    ]
    assert list(strategy.sizers) == [
        "kelly", "delta_prior", "flip_risk_tax", "stake_cap", "regime_factor", "exposure_cap", "venue_rounding"
    ]  # fmt: skip
    assert strategy.gates["sigma"].min_sigma == 1.5
    assert (strategy.gates["dead_zone"].low, strategy.gates["dead_zone"].high) == (0.42, 0.58)


@pytest.mark.parametrize("group", ["gate", "sizer", "sim", "feed", "venue", "strategy"])
def test_every_option_of_every_component_group_builds(group):
    c = cfg()
    for name in options(group):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            if group == "strategy":
                node = compose(
                    config_name="config", overrides=[f"+strategy@strategies.x={name}"]
                ).strategies.x
            elif group in ("sim", "feed", "venue"):
                node = compose(config_name="config", overrides=[f"{group}={name}"])[group]
            else:
                node = compose(config_name=f"{group}/{name}")[group]
        if (group, name) == ("feed", "replay"):
            # No corpus, no replay: the error names the key (built on a real corpus in
            # tests/unit/adapters/test_replay.py).
            with pytest.raises(MissingMandatoryValue, match="feed.corpus"):
                build(node, f"{group}.{name}")
            continue
        obj = build(node, f"{group}.{name}")
        assert type(obj).__name__ == node._target_.rsplit(".", 1)[1]
    assert c.seed == 0


@pytest.mark.parametrize("name", ["sqlite", "postgres"])
def test_db_options_name_a_url(name, monkeypatch):
    monkeypatch.delenv("EDGELOOP_DB_URL", raising=False)
    c = cfg(f"db={name}")
    assert c.db.url.startswith("sqlite:///" if name == "sqlite" else "postgresql+psycopg://")


def test_db_url_follows_the_environment_variable(monkeypatch):
    monkeypatch.setenv("EDGELOOP_DB_URL", "sqlite:////tmp/elsewhere.db")
    assert cfg().db.url == "sqlite:////tmp/elsewhere.db"
    assert cfg("db.url=sqlite:////tmp/explicit.db").db.url == "sqlite:////tmp/explicit.db"


def test_sqlite_default_matches_the_alembic_default(monkeypatch):
    from engine.ledger.db import DEFAULT_URL

    monkeypatch.delenv("EDGELOOP_DB_URL", raising=False)
    assert cfg().db.url == DEFAULT_URL


def test_overrides_reach_the_components():
    driver = build_loop(
        cfg(
            "strategies.updown.gates.sigma.min_sigma=2.5",
            "strategies.updown.gates.max_odds.max_price=0.9",
            "strategies.updown.sizers.stake_cap.max_stake=5",
            "sim=choppy",
            "seed=7",
        ),
        sessions=None,
    )
    strategy = driver.strategies[0]
    assert strategy.gates["sigma"].min_sigma == 2.5
    assert strategy.gates["max_odds"].max_price == 0.9
    assert strategy.sizers["stake_cap"].max_stake == 5
    assert driver.feed.simulator.seed == 7
    assert driver.venue.seed == 7  # the venue's draws follow the run's seed


def test_paper_mode_is_a_composition_of_a_feed_a_venue_and_the_loop():
    from engine.drivers.loop import EngineLoop
    from engine.execution.paper import PaperVenue
    from engine.ports import Feed, Venue
    from engine.sim.feed import SimFeed

    loop = build_loop(cfg(), sessions=None)
    assert type(loop) is EngineLoop
    assert isinstance(loop.feed, SimFeed) and isinstance(loop.feed, Feed)
    assert isinstance(loop.venue, PaperVenue) and isinstance(loop.venue, Venue)
    assert loop.run_config.speed == 60 and loop.venue.latency_ms >= 250


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "strategies.updown.gates.dead_zone.low=0.6",
            "strategies.updown.gates.dead_zone.low=0.6 must be <= high=0.58",
        ),
        (
            "strategies.updown.gates.sigma.min_sigma=-1",
            "strategies.updown.gates.sigma.min_sigma=-1 must be in [0.0, 10.0]",
        ),
        (
            "strategies.updown.sizers.kelly.kelly_fraction=2",
            "strategies.updown.sizers.kelly.kelly_fraction=2 must be in (0.0, 1.0]",
        ),
        (
            "strategies.updown.eval_every_s=0",
            "strategies.updown.eval_every_s=0 must be in [1, 3600]",
        ),
        ("venue.order_type=IOC", "venue.order_type='IOC' must be one of"),
        ("run.duration=soon", "run.duration='soon' must be a duration"),
        ("run.bankroll=0", "run.bankroll=0 must be in (0.0, 1000000000.0]"),
        ("run.speed=0", "run.speed=0.0 must be in (0.0, 1000000.0]"),
        ("run.speed=fast", "run.speed='fast' must be a positive number or 'max'"),
        ("venue.latency_ms=-1", "venue.latency_ms=-1 must be in [0.0, 60000.0]"),
        ("venue.revert_rate=1.5", "venue.revert_rate=1.5 must be in [0.0, 1.0]"),
        ("vol.half_life_s=1", "vol.half_life_s=1 must be in [5.0, 86400.0]"),
        ("+strategies.updown.gates.sigma.min_sigm=2", "strategies.updown.gates.sigma="),
    ],
)
def test_bad_values_stop_the_engine_naming_key_value_and_range(override, message):
    with pytest.raises(ConfigError) as err:
        build_loop(cfg(override), sessions=None)
    assert message in str(err.value)


def test_sim_validation_names_the_key():
    with pytest.raises(ConfigError, match=r"sim\.vol=-0.1"):
        build_loop(cfg("sim.vol=-0.1"), sessions=None)


def test_run_only_two_strategies_by_composition_or_by_flag():
    driver = build_loop(
        cfg("~strategy@strategies.itm", "~strategy@strategies.follow", "~strategy@strategies.news"),
        None,
    )
    assert [s.name for s in driver.strategies] == ["updown", "negrisk"]
    driver = build_loop(
        cfg(
            "strategies.itm.enabled=false",
            "strategies.news.enabled=false",
            "strategies.follow.enabled=false",
        ),
        None,
    )
    assert [s.name for s in driver.strategies if s.enabled] == ["updown", "negrisk"]


def test_change_min_sigma_of_one_strategy_only():
    driver = build_loop(
        cfg(
            "strategies.updown.gates.sigma.min_sigma=2.2", "+gate@strategies.itm.gates.sigma=sigma"
        ),
        None,
    )
    by_name = {s.name: s for s in driver.strategies}
    assert by_name["updown"].gates["sigma"].min_sigma == 2.2
    assert by_name["itm"].gates["sigma"].min_sigma == 1.5


def test_swap_a_sizer_in_place_keeps_the_chain_order():
    driver = build_loop(
        cfg(
            "sizer@strategies.updown.sizers.kelly=fixed_stake",
            "strategies.updown.sizers.kelly.stake=7",
        ),
        None,
    )
    chain = driver.strategies[0].sizers
    assert type(chain["kelly"]).__name__ == "FixedStake" and chain["kelly"].stake == 7
    assert list(chain)[0] == "kelly"


def test_add_a_gate_to_a_strategy():
    driver = build_loop(
        cfg(
            "+gate@strategies.updown.gates.vol_band=vol_band",
            "strategies.updown.gates.vol_band.low=0.8",
        ),
        None,
    )
    gates = driver.strategies[0].gates
    assert list(gates)[-1] == "vol_band" and gates["vol_band"].low == 0.8


@pytest.mark.parametrize("adaptive", options("adaptive"))
def test_every_adaptive_option_builds(adaptive):
    driver = build_loop(cfg(f"adaptive={adaptive}"), None)
    assert driver.loop.calibrator.enabled == (adaptive == "default")


@pytest.mark.parametrize("name", options("classifier"))
def test_every_classifier_builds(name):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        node = compose(config_name=f"classifier/{name}")["classifier"]
    assert build(node, f"classifier.{name}").classify("ETF inflows surge")[0] == 1


@pytest.mark.parametrize("name", options("experiment"))
def test_every_experiment_composes_and_builds(name):
    driver = build_loop(cfg(f"+experiment={name}"), None)
    assert [s.name for s in driver.strategies if s.enabled] == ["updown"]


@pytest.mark.parametrize("mode", options("mode"))
@pytest.mark.parametrize("db", options("db"))
def test_every_db_and_mode_option_composes(db, mode):
    c = cfg(f"db={db}", f"mode={mode}")
    assert c.db.url and c.mode.name == mode


@pytest.mark.parametrize("name", options("db"))
def test_every_db_option_builds_its_limits_and_a_bad_one_names_its_key(name):
    from settings_service.dbconn import DbLimits

    assert build(cfg(f"db={name}").db.limits, "db.limits") == DbLimits()  # YAML = code defaults
    with pytest.raises(ConfigError, match=r"^db\.limits\.deadline_s=0 must be in \(0, 3600\]"):
        build(cfg(f"db={name}", "db.limits.deadline_s=0").db.limits, "db.limits")


def test_the_default_market_is_the_efficient_one_and_the_generous_one_says_so():
    """`make run` must not print money: its makers keep up with ordinary moves, price in half
    of what informed flow knows, and settle on an oracle near spot; fees and latency are on.
    The market whose makers lag every move 5 s is there under its own name."""
    default = cfg()
    sim, venue = default.sim, default.venue
    assert sim.mm_lag_min_move >= 2.0 and sim.mm_informed >= 0.5 and sim.settle_noise > 0
    assert sim.mm_noise <= 0.005 and sim.mm_vol is not None
    assert sim.fee_rate > 0 and venue.latency_ms >= 250
    generous = cfg("sim=lagging_mm").sim
    assert generous.mm_lag_min_move == 0.0 and generous.mm_informed == 0.0
    assert "calm" not in options("sim")  # the old generous default no longer passes for calm
    header = (CONF / "sim" / "lagging_mm.yaml").read_text().splitlines()[0]
    assert "generous" in header.lower()

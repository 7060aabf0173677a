"""Walk-forward scoring on a hand-made ledger: fold boundaries, out-of-sample only, penalty."""

from __future__ import annotations

import pickle

import pytest
from hydra import compose, initialize_config_dir

from engine.app import CONF_DIR
from engine.backtest.tuning import Objective
from engine.backtest.walk_forward import Fold, WalkForward, score
from engine.components import build
from engine.core.validation import ConfigError


def test_three_folds_cut_the_span_on_whole_seconds():
    plan = WalkForward(folds=3).plan(1000, 1899)  # 900 seconds replayed
    assert [(f.index, f.start, f.end, f.scored) for f in plan.folds] == [
        (1, 1000, 1300, False),
        (2, 1300, 1600, True),
        (3, 1600, 1900, True),
    ]
    assert plan.holdout is None
    assert plan.trial_end == 1899


def test_the_holdout_is_the_last_share_and_no_trial_replays_it():
    plan = WalkForward(folds=3, holdout=0.25).plan(0, 1199)
    assert [(f.start, f.end) for f in plan.folds] == [(0, 300), (300, 600), (600, 900)]
    assert (plan.holdout.start, plan.holdout.end, plan.holdout.scored) == (900, 1200, True)
    assert plan.trial_end == 899  # the trial's backtest.end
    evaluation = plan.holdout_folds()
    assert [f.scored for f in evaluation] == [False, False, False, True]
    with pytest.raises(ValueError, match="no holdout"):
        WalkForward().plan(0, 1199).holdout_folds()


def test_the_objective_is_the_out_of_sample_pnl_less_the_missing_trades_penalty():
    walk = WalkForward(folds=3, min_trades=5, penalty_per_missing_trade=1.5)
    plan = walk.plan(0, 899)
    trades = [
        (10.0, 100.0),  # fold 1: training only, never in the objective
        (299.0, 50.0),  # still fold 1 (its last second)
        (300.0, -5.0),  # fold 2 starts at its first second
        (599.5, 7.0),
        (600.0, 3.0),  # fold 3
        (900.0, 1000.0),  # after the replayed span: in no fold
    ]
    result = walk.score(trades, plan.folds)
    assert [(f.trades, f.pnl) for f in result.folds] == [(2, 150.0), (2, 2.0), (1, 3.0)]
    assert (result.scored_trades, result.scored_pnl) == (3, 5.0)
    assert result.penalty == 3.0  # 2 trades short of 5, 1.5 USD each
    assert result.objective == 2.0
    attrs = result.as_attrs()
    assert attrs["oos_pnl"] == 5.0 and attrs["penalty"] == 3.0
    assert [f["scored"] for f in attrs["folds"]] == [False, True, True]
    assert attrs["folds"][1]["start"] == "1970-01-01T00:05:00Z"


def test_enough_trades_cost_nothing_and_no_trade_costs_the_whole_penalty():
    walk = WalkForward(folds=2, min_trades=2, penalty_per_missing_trade=4.0)
    plan = walk.plan(0, 99)
    assert walk.score([(60, -1.0), (70, 2.5)], plan.folds).objective == 1.5
    empty = walk.score([], plan.folds)
    assert (empty.scored_trades, empty.penalty, empty.objective) == (0, 8.0, -8.0)


def test_a_holdout_evaluation_scores_the_holdout_only():
    plan = WalkForward(folds=2, holdout=0.5).plan(0, 399)
    result = score([(10, 1.0), (150, 2.0), (250, 4.0), (399, 8.0)], plan.holdout_folds())
    assert [(f.fold.name, f.trades, f.pnl) for f in result.folds] == [
        ("fold 1", 1, 1.0),
        ("fold 2", 1, 2.0),
        ("holdout", 2, 12.0),
    ]
    assert result.objective == 12.0 and result.penalty == 0.0


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("folds", 1, "folds=1 must be a whole number >= 2 (fold 1 is training only)"),
        ("folds", 2.5, "folds=2.5 must be a whole number >= 2"),
        ("min_trades", -1, "min_trades=-1 must be a whole number >= 0"),
        ("penalty_per_missing_trade", -0.5, "penalty_per_missing_trade=-0.5 must be in"),
        ("holdout", 1.0, "holdout=1.0 must be in [0, 1)"),
    ],
)
def test_bad_settings_name_the_field(field, value, rule):
    with pytest.raises(ConfigError) as err:
        WalkForward(**{field: value})
    assert str(err.value).startswith(rule)


def test_a_span_too_short_for_its_folds_is_refused():
    with pytest.raises(ConfigError, match="cannot cut 2 s"):
        WalkForward(folds=3).plan(0, 1)


def test_a_fold_holds_its_start_and_not_its_end():
    fold = Fold(2, 10.0, 20.0, scored=True)
    assert fold.holds(10.0) and fold.holds(19.999) and not fold.holds(20.0)


def test_the_objective_travels_to_the_sweeper_with_its_attrs():
    """A joblib or Ray worker pickles the task's return value back to the sweeper."""
    value = Objective(2.5, {"folds": [{"trades": 1}], "oos_pnl": 2.5})
    back = pickle.loads(pickle.dumps(value))
    assert isinstance(back, Objective) and back == 2.5 and back.attrs == value.attrs
    assert float(back) + 1 == 3.5


def test_a_backtest_composes_its_tune_settings():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name="config", overrides=["mode=backtest", "backtest.corpus=x", "tune.folds=4"]
        )
    assert build(cfg.tune, "tune") == WalkForward(folds=4)

"""The Optuna sweeper's search space: Hydra's sweep syntax as Optuna distributions."""

from __future__ import annotations

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from engine.backtest.sweeper import search_space, storage_of


def test_sweep_overrides_become_distributions_and_the_rest_stays_fixed():
    space, fixed = search_space(
        [
            "strategies.updown.gates.sigma.min_sigma=interval(1.0,3.0)",
            "tune.folds=range(2,5)",
            "vol.half_life_s=tag(log,interval(60,600))",
            "strategies.updown.gates.dead_zone.low=choice(0.40,0.42)",
            "mode=backtest",
            "backtest.corpus=var/corpus",
        ]
    )
    assert space == {
        "strategies.updown.gates.sigma.min_sigma": FloatDistribution(1.0, 3.0),
        "tune.folds": IntDistribution(2, 4),  # range() excludes its stop
        "vol.half_life_s": FloatDistribution(60.0, 600.0, log=True),  # interval: floats
        "strategies.updown.gates.dead_zone.low": CategoricalDistribution([0.40, 0.42]),
    }
    assert fixed == ["mode=backtest", "backtest.corpus=var/corpus"]


def test_optuna_never_shares_the_ledger_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'edgeloop.db'}"
    with pytest.raises(ValueError, match="is the ledger's database"):
        storage_of(url, url)
    storage = storage_of(f"sqlite:///{tmp_path / 'sub' / 'optuna.db'}", url)
    assert (tmp_path / "sub" / "optuna.db").is_file()
    storage.engine.dispose()  # type: ignore[union-attr]
    assert storage_of(None, url) is None

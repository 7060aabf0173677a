"""With no edge anywhere, the calibrator adopts no cut: the family and the repeated looks.

An edgeless history is one where every entry wins with probability ``cost`` (its
fee-inclusive price). Whatever the calibrator then adopts is noise. It looks
every five minutes at three strategies' growing histories, so a fixed-sample
test at each look would cut something in most runs; the e-process evidence
keeps the chance that a run ever adopts any cut, of any parameter of any
strategy, under alpha (0.05).
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.core.adaptive.calibrator import (
    BAND_HIGH,
    BAND_LOW,
    GAMMA_CAP,
    SIGMA,
    CalibratorConfig,
    Outcomes,
    calibrate,
    evidence_bar,
    log_wealth,
)

FLOORS = {
    "updown": {SIGMA: 1.5},
    "itm": {GAMMA_CAP: 60.0},
    "banded": {BAND_LOW: 0.5, BAND_HIGH: 2.0},
}


def edgeless_history(rng: np.random.Generator, n: int) -> Outcomes:
    """``n`` entries, in resolution order, each winning with probability its cost."""
    cost = rng.uniform(0.2, 0.9, n)
    return Outcomes(
        won=rng.random(n) < cost,
        cost=cost,
        gamma=rng.lognormal(2.5, 1.0, n),
        delta=rng.lognormal(0.0, 0.8, n),
        iv_rv=rng.lognormal(0.0, 0.4, n),
        z=1.5 + rng.exponential(0.8, n),
    )


def prefix(o: Outcomes, n: int) -> Outcomes:
    return Outcomes(o.won[:n], o.cost[:n], o.gamma[:n], o.delta[:n], o.iv_rv[:n], o.z[:n])


def adopts_a_cut(calibrate_fn, cfg, seed: int, looks: int = 96, per_look: float = 4.0) -> bool:
    """One run: every strategy's history grows by Poisson(per_look) entries between looks
    (five minutes each: 96 looks = 8 hours); True when any look adopts anything."""
    rng = np.random.default_rng(seed)
    arrivals = {name: np.cumsum(rng.poisson(per_look, looks)) for name in FLOORS}
    histories = {name: edgeless_history(rng, int(a[-1])) for name, a in arrivals.items()}
    family = sum(cfg.candidates(f) for f in FLOORS.values()) if hasattr(cfg, "candidates") else None
    for look in range(looks):
        for name, floors in FLOORS.items():
            history = prefix(histories[name], int(arrivals[name][look]))
            kwargs = {"family": family} if family is not None else {}
            cal = calibrate_fn(history, floors, cfg, **kwargs)
            moved = any(abs(cal.after[k] - v) > 1e-12 for k, v in floors.items())
            if moved or cal.delta_prior is not None:
                return True
    return False


def test_with_no_edge_anywhere_at_most_five_percent_of_runs_adopt_any_cut():
    runs = 30
    adopted = sum(adopts_a_cut(calibrate, CalibratorConfig(), seed) for seed in range(runs))
    assert adopted <= 0.05 * runs, f"{adopted} of {runs} edgeless runs adopted a cut"


def test_the_evidence_bar_is_the_family_over_alpha():
    assert evidence_bar(0.05, 1) == pytest.approx(np.log(20))
    assert evidence_bar(0.05, 100) == pytest.approx(np.log(2000))
    cfg = CalibratorConfig()
    # 8 sigma cut-offs + 2 x 16 band edges + 8 caps + 2 x 5 delta buckets
    assert cfg.candidates({SIGMA: 1.5, BAND_LOW: 0.5, BAND_HIGH: 2.0, GAMMA_CAP: 20.0}) == 58


def test_the_bet_never_sees_the_outcome_it_bets_on():
    """The first entry is never bet on, and a stake only follows what came before: flipping
    the last outcome changes nothing but the last factor."""
    assert log_wealth(np.array([0.7])) == 0.0
    x = np.array([0.4, 0.4, 0.4, 0.4, -0.6, 0.4, 0.4, 0.4])
    y = x.copy()
    y[-1] = -0.6
    a, b = log_wealth(x), log_wealth(y)
    head = log_wealth(x[:-1])
    assert a > head > b  # the last bet was placed (lambda > 0) and only its factor differs


def test_wealth_is_a_fair_bet_under_no_edge():
    """Over many edgeless sequences the wealth is at most 1 on average (a martingale: the
    sample mean of such a skewed variable sits under its mean) and rarely gets far."""
    rng = np.random.default_rng(11)
    cost = rng.uniform(0.2, 0.9, (4000, 200))
    x = cost - (rng.random(cost.shape) < cost)
    wealth = np.exp([log_wealth(row) for row in x])
    assert wealth.mean() <= 1.1
    assert (wealth >= 20).mean() <= 0.05  # Ville: P(ever >= 1/a) <= a


def test_a_real_edge_still_gets_cut():
    """Low-|z| entries at 0.6 that win 45 % (edge -0.15 a share) are cut within a few hundred."""
    rng = np.random.default_rng(4)
    n = 1200
    z = rng.uniform(1.5, 3.5, n)
    cost = np.full(n, 0.6)
    won = np.where(z < 2.0, rng.random(n) < 0.45, rng.random(n) < 0.62)
    history = Outcomes(won, cost, np.full(n, 5.0), np.full(n, 1.0), np.full(n, 1.0), z)
    family = sum(CalibratorConfig().candidates(f) for f in FLOORS.values())
    cal = calibrate(history, {SIGMA: 1.5}, CalibratorConfig(), family=family)
    assert 1.95 <= cal.after[SIGMA] <= 2.5

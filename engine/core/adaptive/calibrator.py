"""The calibrator: move a strategy's gates toward where its winners are, never past the floors.

Every ``every_s`` seconds of engine time it looks at the strategy's resolved
entries of the last ``window_days`` and proposes, for the gates the strategy
composes:

- ``gates.sigma.min_sigma``: raised, in ``sigma_step`` steps, to the cut-off that
  keeps the most edge (dropping low-|z| entries that win less than they cost);
- ``gates.vol_band.low/high``: the band of IV/RV where the winning edge clusters:
  the band that keeps the most ``won - cost`` (payout minus fee-inclusive price);
- ``gates.gamma_leash.cap``: when losers sit at higher |gamma_1pct| than winners,
  ``gamma_cap_mult`` x the winners' centroid (the seed: losers 12, winners 5 -> 7.5);
- a delta prior: stake multipliers by |delta_1pct| bucket (``delta_buckets``
  quantile buckets of the history), from each bucket's realised edge per share.

Evidence first. A cut is adopted only when the entries it would have dropped
lost money beyond doubt: at least ``min_band_samples`` of them, and a score
statistic ``sum(won - cost) / sqrt(sum(cost (1 - cost)))`` under ``-min_t``.
That is the test of their wins against their break-even prices (under "no
edge" each wins with probability ``cost``); a t-test's sample variance
collapses when a few cheap entries lose in a row and calls that certainty.
Where a parameter tries several cuts (the sigma cut-offs, the band's edges)
and keeps the best, the bar is Bonferroni-corrected for the number tried
(``min_t`` 2 and eight sigma cut-offs ask for t < -2.77). Centroids alone are
not evidence: losers at high |gamma| may still have been cheap enough to pay.
The delta prior sizes by edge, not by win rate: a bucket's multiplier is 1
unless it holds at least ``min_band_samples`` entries whose mean edge per share
(``won - cost``, the fee-inclusive price) differs from zero beyond doubt: the
same score statistic, ``|t| >= critical_t(min_t, delta_buckets)``. Then it is
``1 + 0.5 * edge / delta_edge_scale``, clipped to [0.5, 1.5] and shrunk toward 1
by the weight: above 1 only for a bucket that made money, below 1 only for one
that lost it. (Winning more often is not edge: a bucket of favourites bought at
0.85 that wins 75 % of the time loses 0.10 a share.) No bucket with evidence:
no prior, every multiplier 1.

Floors: the configured value of every adaptive parameter (YAML, overrides,
settings) is its floor, and a calibrated value is never looser than it. Under
``min_samples`` nothing adapts; above, a proposal is shrunk toward the floor
with weight ``n / (n + shrink_n)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import ndtr, ndtri

from engine.core.validation import check_range

SIGMA = "gates.sigma.min_sigma"
BAND_LOW = "gates.vol_band.low"
BAND_HIGH = "gates.vol_band.high"
GAMMA_CAP = "gates.gamma_leash.cap"
# Which way is tighter for each adaptive key: +1 = higher is tighter, -1 = lower is tighter.
TIGHTER = {SIGMA: +1, BAND_LOW: +1, BAND_HIGH: -1, GAMMA_CAP: -1}


@dataclass(frozen=True)
class CalibratorConfig:
    enabled: bool = True
    every_s: int = 300
    window_days: float = 14.0
    min_samples: int = 30
    shrink_n: float = 30.0
    gamma_cap_mult: float = 1.5
    sigma_step: float = 0.25
    sigma_max_raise: float = 2.0
    min_band_samples: int = 10
    min_t: float = 2.0
    delta_buckets: int = 5
    delta_edge_scale: float = 0.05

    def __post_init__(self) -> None:
        check_range("every_s", self.every_s, 1, 86_400)
        check_range("window_days", self.window_days, 0.01, 365.0)
        check_range("min_samples", self.min_samples, 1, 1_000_000)
        check_range("shrink_n", self.shrink_n, 0.0, 1e9)
        check_range("gamma_cap_mult", self.gamma_cap_mult, 1.0, 10.0)
        check_range("sigma_step", self.sigma_step, 0.01, 5.0)
        check_range("sigma_max_raise", self.sigma_max_raise, 0.0, 10.0)
        check_range("min_band_samples", self.min_band_samples, 1, 1_000_000)
        check_range("min_t", self.min_t, 0.0, 10.0)
        check_range("delta_buckets", self.delta_buckets, 1, 100)
        check_range("delta_edge_scale", self.delta_edge_scale, 0.0, 1.0, lo_open=True)


@dataclass(frozen=True)
class Outcomes:
    """Resolved entries of one strategy: one row per filled entry (arrays of equal length).

    ``won``; ``cost`` = the fee-inclusive entry price per share (its break-even
    win rate); ``gamma``, ``delta``, ``iv_rv``, ``z`` as recorded at entry.
    """

    won: np.ndarray
    cost: np.ndarray
    gamma: np.ndarray
    delta: np.ndarray
    iv_rv: np.ndarray
    z: np.ndarray

    def __len__(self) -> int:
        return len(self.won)


@dataclass(frozen=True)
class DeltaPrior:
    """Stake multipliers by |delta_1pct| bucket, from each bucket's realised edge per share.

    ``bounds``: the inner bucket edges, ascending (one fewer than buckets; a
    |delta| equal to a bound falls in the bucket above it); ``mults``: one
    multiplier per bucket; ``edge``, ``se``, ``n``: each bucket's mean edge per
    share (``won - cost``), its standard error under "no edge" and its entries,
    kept for the record; ``weight``: the data weight the multipliers were shrunk by.
    """

    bounds: tuple[float, ...]
    mults: tuple[float, ...]
    edge: tuple[float, ...]
    se: tuple[float, ...]
    n: tuple[int, ...]
    weight: float
    # Stored form. Version 1 rows (no ``delta_prior.version`` key) held winners' and losers'
    # |delta| normals: a win-rate prior, no evidence of edge, so they load as no prior.
    VERSION: ClassVar[int] = 2

    def multiplier(self, delta_1pct: np.ndarray) -> np.ndarray:
        """Each row's bucket multiplier; exactly 1.0 where |delta| is not a number."""
        d = np.abs(np.asarray(delta_1pct, dtype=float))
        mults = np.asarray(self.mults, dtype=float)
        i = np.searchsorted(np.asarray(self.bounds, dtype=float), d, side="right")
        return np.where(np.isfinite(d), mults[np.minimum(i, len(mults) - 1)], 1.0)

    def to_dict(self) -> dict[str, float]:
        """Flat ``delta_prior.*`` floats, stored beside the gates in ``calibrations.after``."""
        out = {"delta_prior.version": float(self.VERSION), "delta_prior.weight": self.weight}
        for name in ("bounds", "mults", "edge", "se", "n"):
            for i, v in enumerate(getattr(self, name)):
                out[f"delta_prior.{name}.{i}"] = float(v)
        return out

    @classmethod
    def from_dict(cls, doc: dict) -> DeltaPrior | None:
        """The prior stored by :meth:`to_dict`; None for a row without one, a version-1 row
        (multipliers 1 until the next calibration) or a malformed one."""
        try:
            if float(doc.get("delta_prior.version", 1)) != cls.VERSION:
                return None
            k = sum(1 for key in doc if key.startswith("delta_prior.mults."))
            col = lambda name, m: tuple(float(doc[f"delta_prior.{name}.{i}"]) for i in range(m))  # noqa: E731
            return cls(
                bounds=col("bounds", k - 1),
                mults=col("mults", k),
                edge=col("edge", k),
                se=col("se", k),
                n=tuple(int(v) for v in col("n", k)),
                weight=float(doc["delta_prior.weight"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Calibration:
    """What one run found: sample counts, centroids, thresholds and the delta prior."""

    n_wins: int
    n_losses: int
    centroids: dict[str, float | None]
    before: dict[str, float]
    after: dict[str, float]
    applied: bool
    delta_prior: DeltaPrior | None


def _mean(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else None


def _tightest(key: str, floor: float, value: float) -> float:
    """``value`` if it is at least as tight as ``floor``, else ``floor``."""
    return max(floor, value) if TIGHTER[key] > 0 else min(floor, value)


def calibrate(outcomes: Outcomes, floors: dict[str, float], cfg: CalibratorConfig) -> Calibration:
    """Propose tighter values for the adaptive keys in ``floors`` (the strategy's own gates)."""
    won = np.asarray(outcomes.won, dtype=bool)
    n, n_wins = len(won), int(won.sum())
    g, d, v, z = (
        np.abs(outcomes.gamma),
        np.abs(outcomes.delta),
        outcomes.iv_rv,
        np.abs(outcomes.z),
    )
    centroids = {
        "win_gamma": _mean(g[won]), "loss_gamma": _mean(g[~won]),
        "win_delta": _mean(d[won]), "loss_delta": _mean(d[~won]),
        "win_iv_rv": _mean(v[won]), "loss_iv_rv": _mean(v[~won]),
        "win_sigma": _mean(z[won]), "loss_sigma": _mean(z[~won]),
    }  # fmt: skip
    before = dict(floors)
    if n < cfg.min_samples or n_wins == 0 or n_wins == n:
        return Calibration(n_wins, n - n_wins, centroids, before, dict(floors), False, None)
    weight = n / (n + cfg.shrink_n)
    proposal: dict[str, float] = {}
    if BAND_LOW in floors and BAND_HIGH in floors:
        band = _band_proposal(floors[BAND_LOW], floors[BAND_HIGH], won, outcomes.cost, v, cfg)
        if band is not None:
            proposal[BAND_LOW], proposal[BAND_HIGH] = band
    if GAMMA_CAP in floors:
        wg, lg = centroids["win_gamma"], centroids["loss_gamma"]
        if wg is not None and lg is not None and lg > wg:
            cap = cfg.gamma_cap_mult * wg
            edge = won.astype(float) - outcomes.cost
            above = np.isfinite(g) & np.isfinite(edge) & (g > cap)
            var = _null_var(outcomes.cost[above])
            if _loses(edge[above].sum(), var.sum(), int(above.sum()), cfg):
                proposal[GAMMA_CAP] = cap
    if SIGMA in floors:
        proposal[SIGMA] = _sigma_proposal(floors[SIGMA], won, outcomes.cost, z, cfg)
    after = dict(floors)
    for key, value in proposal.items():
        shrunk = floors[key] + weight * (value - floors[key])
        after[key] = _tightest(key, floors[key], shrunk)
    if BAND_LOW in after and after[BAND_LOW] > after[BAND_HIGH]:
        after[BAND_LOW], after[BAND_HIGH] = floors[BAND_LOW], floors[BAND_HIGH]
    prior = _delta_prior(d, won, outcomes.cost, weight, cfg)
    return Calibration(n_wins, n - n_wins, centroids, before, after, True, prior)


def critical_t(min_t: float, tries: int) -> float:
    """The t a cut must beat when it is the best of ``tries``: ``min_t``'s one-sided tail
    probability split ``tries`` ways (Bonferroni); ``min_t`` itself for one try."""
    if tries <= 1:
        return min_t
    return float(-ndtri(ndtr(-min_t) / tries))


def _null_var(cost: np.ndarray) -> np.ndarray:
    """Variance of ``won - cost`` per entry if it had no edge (wins with probability ``cost``)."""
    c = np.clip(cost, 1e-6, 1.0 - 1e-6)
    return c * (1.0 - c)


def _loses(edge_sum: float, null_var: float, n: int, cfg: CalibratorConfig, tries: int = 1) -> bool:
    """Whether ``n`` entries whose edges (``won - cost``) sum to ``edge_sum`` lost money beyond
    doubt: at least ``min_band_samples`` of them and a score statistic
    ``edge_sum / sqrt(null_var)`` under ``-critical_t(min_t, tries)`` (``null_var``: the sum
    of :func:`_null_var`; ``tries``: the candidate cuts this one was chosen from)."""
    if n < cfg.min_band_samples or not null_var > 0.0:
        return False
    return bool(edge_sum / np.sqrt(null_var) < -critical_t(cfg.min_t, tries))


def _band_proposal(
    floor_low: float,
    floor_high: float,
    won: np.ndarray,
    cost: np.ndarray,
    v: np.ndarray,
    cfg: CalibratorConfig,
) -> tuple[float, float] | None:
    """The IV/RV band inside the floor band that keeps the most edge (``won - cost`` summed).

    Candidate edges are the entries' own IV/RV values (every 2.5 % of them, the low
    edge below the median, the high one above); a cut must drop at least
    ``min_band_samples`` entries to count, and no cut keeps the floor band.
    """
    edge = won.astype(float) - cost
    ok = np.isfinite(v) & np.isfinite(edge) & (v >= floor_low) & (v <= floor_high)
    v, edge, cost = v[ok], edge[ok], cost[ok]
    if len(v) < 2 * cfg.min_band_samples:
        return None
    order = np.argsort(v)
    v, edge, cost = v[order], edge[order], cost[order]
    cum = np.concatenate([[0.0], np.cumsum(edge)])  # cum[i] = edge of the i lowest entries
    var = np.concatenate([[0.0], np.cumsum(_null_var(cost))])
    n, m = len(v), cfg.min_band_samples
    lows = [0] + list(range(m, n // 2 + 1, max(1, n // 40)))
    highs = [n] + list(range(n - m, n // 2 - 1, -max(1, n // 40)))
    best = (cum[n] - cum[0], 0, n)
    tries = len(lows) + len(highs) - 2  # every candidate edge but "keep the floor"
    for i in lows:
        if i and not _loses(cum[i], var[i], i, cfg, tries):
            continue
        for j in highs:
            if j < n and not _loses(cum[n] - cum[j], var[n] - var[j], n - j, cfg, tries):
                continue
            if j > i and cum[j] - cum[i] > best[0]:
                best = (cum[j] - cum[i], i, j)
    _, i, j = best
    low = floor_low if i == 0 else float(v[i])
    high = floor_high if j == n else float(v[j - 1])
    return low, high


def _sigma_proposal(
    floor: float, won: np.ndarray, cost: np.ndarray, z: np.ndarray, cfg: CalibratorConfig
) -> float:
    """The cut-off t in [floor, floor + sigma_max_raise] that keeps the most edge.

    Each entry's edge is ``won - cost`` (payout minus the fee-inclusive price per
    share); raising min_sigma to t drops the entries with |z| < t. A cut-off is
    only considered when at least ``min_band_samples`` entries fall below it.
    """
    edge = won.astype(float) - cost
    ok = np.isfinite(edge) & np.isfinite(z) & (z >= floor)
    z, edge, var = z[ok], edge[ok], _null_var(cost[ok])
    best, best_kept = floor, edge.sum()
    cutoffs = np.arange(floor + cfg.sigma_step, floor + cfg.sigma_max_raise + 1e-9, cfg.sigma_step)
    for t in cutoffs:
        dropped = z < t
        n_dropped = int(dropped.sum())
        if not _loses(edge[dropped].sum(), var[dropped].sum(), n_dropped, cfg, len(cutoffs)):
            continue
        kept = edge[~dropped].sum()
        if kept > best_kept:
            best, best_kept = float(t), kept
    return best


def _delta_prior(
    d: np.ndarray, won: np.ndarray, cost: np.ndarray, weight: float, cfg: CalibratorConfig
) -> DeltaPrior | None:
    """Multipliers for ``delta_buckets`` quantile buckets of |delta| (see the module's notes);
    None when no bucket's edge per share differs from zero beyond doubt."""
    edge = won.astype(float) - np.asarray(cost, dtype=float)
    ok = np.isfinite(d) & np.isfinite(edge)
    d, edge, cost = d[ok], edge[ok], np.asarray(cost, dtype=float)[ok]
    if not len(d):
        return None
    bounds = np.unique(np.quantile(d, np.arange(1, cfg.delta_buckets) / cfg.delta_buckets))
    idx = np.searchsorted(bounds, d, side="right")
    bar = critical_t(cfg.min_t, len(bounds) + 1)
    mults, means, ses, counts = [], [], [], []
    for b in range(len(bounds) + 1):
        e, c = edge[idx == b], cost[idx == b]
        n = len(e)
        mean = float(e.mean()) if n else 0.0
        se = float(np.sqrt(_null_var(c).sum()) / n) if n else 0.0
        mult = 1.0
        if n >= cfg.min_band_samples and se > 0 and abs(mean) >= bar * se:
            raw = min(max(1.0 + 0.5 * mean / cfg.delta_edge_scale, 0.5), 1.5)
            mult = 1.0 + weight * (raw - 1.0)
        mults.append(mult)
        means.append(mean)
        ses.append(se)
        counts.append(n)
    if all(m == 1.0 for m in mults):
        return None
    return DeltaPrior(
        tuple(float(x) for x in bounds), tuple(mults), tuple(means), tuple(ses), tuple(counts),
        float(weight),
    )  # fmt: skip


def tighten(floors: dict[str, float], calibrated: dict[str, float]) -> dict[str, float]:
    """Calibrated values re-clamped against (possibly new) floors: never looser than a floor."""
    out = {}
    for key, floor in floors.items():
        value = calibrated.get(key, floor)
        out[key] = _tightest(key, floor, value) if key in TIGHTER else floor
    if BAND_LOW in out and BAND_HIGH in out and out[BAND_LOW] > out[BAND_HIGH]:
        out[BAND_LOW], out[BAND_HIGH] = floors[BAND_LOW], floors[BAND_HIGH]
    return out

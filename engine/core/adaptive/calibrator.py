"""The calibrator: move a strategy's gates toward where its winners are, never past the floors.

Every ``every_s`` seconds of engine time it looks at the strategy's resolved
entries of the last ``window_days`` and proposes, for the gates the strategy
composes:

- ``gates.sigma.min_sigma``: raised, in ``sigma_step`` steps, to the cut-off that
  keeps the most edge (dropping low-|z| entries that win less than they cost);
- ``gates.vol_band.low/high``: the band of IV/RV that keeps the most edge
  (``won - cost``, payout minus fee-inclusive price), its edges on a grid of
  ``band_steps`` points inside the floor band;
- ``gates.gamma_leash.cap``: the cap that keeps the most edge, on a grid of
  ``gamma_steps`` caps under the floor (each 0.75 x the one above);
- a delta prior: stake multipliers by |delta_1pct| bucket (``delta_buckets``
  buckets), from each bucket's realised edge per share.

Evidence first, and controlled as a family. Every candidate cut (each sigma
cut-off, each band edge, each cap, each delta bucket in either direction, of
every calibrated strategy) is a test of "the entries it would drop lose money",
and the calibrator looks every five minutes, forever. A fixed-sample test at
each look adopts spurious cuts: with no edge anywhere, 8 of 40 runs of the
score test (t < -2, Bonferroni within a parameter) adopted one. So each
candidate's evidence is a test martingale (an e-process) over its entries in
the order they resolved: wealth ``prod(1 + lambda_i (cost_i - won_i))``, a bet
that they lose, ``lambda_i`` chosen from the entries before ``i`` only. With no
edge (each wins with probability ``cost``) the wealth is a non-negative
martingale, and by Ville's inequality it ever reaches ``F / alpha`` with
probability at most ``alpha / F``, at any of the looks, however many. With
``F`` the number of candidates of the family, a cut is adopted when its
wealth reaches ``F / alpha``: the chance that any cut of any parameter of any
strategy is ever adopted in a run with no edge is at most ``alpha`` (0.05).
Among the cuts with evidence the one that keeps the most edge wins. Grids are
fixed in advance (they depend on the floors, not on the data), and the delta
buckets are the quantiles of the first ``min_samples`` entries' |delta| (not
of their outcomes), so each candidate is one process from look to look. (The
guarantee holds within one ``window_days``: when the window rolls, the entries
that leave it leave the processes too.)

The delta prior sizes by edge, not by win rate: a bucket's multiplier is 1
unless its entries' edge per share (``won - cost``) differs from zero by the
same evidence (a bet either way, each side one candidate). Then it is
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

from engine.core.pricing.vol import degenerate_iv_rv
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
    sigma_step: float = 0.25
    sigma_max_raise: float = 2.0
    band_steps: int = 16
    gamma_steps: int = 8
    min_band_samples: int = 10
    alpha: float = 0.05
    delta_buckets: int = 5
    delta_edge_scale: float = 0.05

    def __post_init__(self) -> None:
        check_range("every_s", self.every_s, 1, 86_400)
        check_range("window_days", self.window_days, 0.01, 365.0)
        check_range("min_samples", self.min_samples, 1, 1_000_000)
        check_range("shrink_n", self.shrink_n, 0.0, 1e9)
        check_range("sigma_step", self.sigma_step, 0.01, 5.0)
        check_range("sigma_max_raise", self.sigma_max_raise, 0.0, 10.0)
        check_range("band_steps", self.band_steps, 0, 200)
        check_range("gamma_steps", self.gamma_steps, 0, 200)
        check_range("min_band_samples", self.min_band_samples, 1, 1_000_000)
        check_range("alpha", self.alpha, 0.0, 1.0, lo_open=True, hi_open=True)
        check_range("delta_buckets", self.delta_buckets, 1, 100)
        check_range("delta_edge_scale", self.delta_edge_scale, 0.0, 1.0, lo_open=True)

    def sigma_cutoffs(self, floor: float) -> np.ndarray:
        """The candidate ``min_sigma`` values above ``floor``."""
        top = floor + self.sigma_max_raise + 1e-9
        return np.arange(floor + self.sigma_step, top, self.sigma_step)

    def candidates(self, floors: dict[str, float]) -> int:
        """How many candidate cuts one calibration of a strategy with these floors tests."""
        n = 2 * self.delta_buckets
        if SIGMA in floors:
            n += len(self.sigma_cutoffs(floors[SIGMA]))
        if BAND_LOW in floors and BAND_HIGH in floors:
            n += 2 * self.band_steps
        if GAMMA_CAP in floors:
            n += self.gamma_steps
        return n


@dataclass(frozen=True)
class Outcomes:
    """Resolved entries of one strategy: one row per filled entry (arrays of equal length).

    ``won``; ``cost`` = the fee-inclusive entry price per share (its break-even
    win rate); ``gamma``, ``delta``, ``iv_rv``, ``z`` as recorded at entry. Rows are in
    the order the entries resolved (the evidence bets on each outcome before seeing it).
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


def calibrate(
    outcomes: Outcomes,
    floors: dict[str, float],
    cfg: CalibratorConfig,
    *,
    family: int | None = None,
) -> Calibration:
    """Propose tighter values for the adaptive keys in ``floors`` (the strategy's own gates).

    ``family``: the candidate cuts of every strategy the run calibrates (the sum of
    :meth:`CalibratorConfig.candidates`); by default this strategy's own.
    """
    won = np.asarray(outcomes.won, dtype=bool)
    n, n_wins = len(won), int(won.sum())
    g, d, z = np.abs(outcomes.gamma), np.abs(outcomes.delta), np.abs(outcomes.z)
    # A ratio from a degenerate implied-vol solve says nothing about vol: not in any IV/RV
    # centroid, band or evidence.
    v = np.where(degenerate_iv_rv(outcomes.iv_rv), np.nan, outcomes.iv_rv)
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
    bar = evidence_bar(cfg.alpha, family or cfg.candidates(floors))
    edge = won.astype(float) - np.asarray(outcomes.cost, dtype=float)
    proposal: dict[str, float] = {}
    if BAND_LOW in floors and BAND_HIGH in floors:
        band = _band_proposal(floors[BAND_LOW], floors[BAND_HIGH], edge, v, bar, cfg)
        proposal[BAND_LOW], proposal[BAND_HIGH] = band
    if GAMMA_CAP in floors:
        caps = floors[GAMMA_CAP] * GAMMA_RATIO ** np.arange(1, cfg.gamma_steps + 1)
        proposal[GAMMA_CAP] = _best_cut(floors[GAMMA_CAP], caps, edge, g, -1, bar, cfg)
    if SIGMA in floors:
        cutoffs = cfg.sigma_cutoffs(floors[SIGMA])
        proposal[SIGMA] = _best_cut(floors[SIGMA], cutoffs, edge, z, +1, bar, cfg)
    after = dict(floors)
    for key, value in proposal.items():
        shrunk = floors[key] + weight * (value - floors[key])
        after[key] = _tightest(key, floors[key], shrunk)
    if BAND_LOW in after and after[BAND_LOW] > after[BAND_HIGH]:
        after[BAND_LOW], after[BAND_HIGH] = floors[BAND_LOW], floors[BAND_HIGH]
    prior = _delta_prior(d, edge, outcomes.cost, weight, bar, cfg)
    return Calibration(n_wins, n - n_wins, centroids, before, after, True, prior)


# The most an e-process stakes on one entry: its wealth never falls by more than half at once.
LAMBDA_MAX = 0.5
# Each candidate gamma cap is this times the one above it (the first: this times the floor).
GAMMA_RATIO = 0.75


def evidence_bar(alpha: float, family: int) -> float:
    """The log wealth a candidate's e-process must reach: ``log(family / alpha)`` (Ville's
    inequality and a union bound over the family: with no edge, any of ``family`` candidates
    ever gets there with probability at most ``alpha``)."""
    return float(np.log(max(family, 1) / alpha))


def log_wealth(x: np.ndarray) -> float:
    """Log wealth of betting, in the order given, that ``x`` has a positive mean.

    Wealth is ``prod(1 + lambda_i x_i)`` (``x_i`` in [-1, 1]); each stake ``lambda_i`` is
    the growth-optimal fraction ``m / (v + m^2)`` for the mean ``m`` and variance ``v``
    of the entries before ``i`` (one pseudo-entry of mean 0 and variance 0.25 shrinks the
    first bets to nothing), clipped to [0, LAMBDA_MAX]. It never uses ``x_i`` itself, so
    under a mean of zero or less the wealth is a non-negative (super)martingale.
    """
    x = np.asarray(x, dtype=float)
    if not len(x):
        return 0.0
    seen = np.arange(len(x), dtype=float) + 1.0  # entries before i, plus the pseudo-entry
    mean = np.concatenate([[0.0], np.cumsum(x)[:-1]]) / seen
    resid = np.concatenate([[0.0], np.cumsum((x - mean) ** 2)[:-1]])
    var = (0.25 + resid) / seen
    lam = np.clip(mean / (var + mean**2), 0.0, LAMBDA_MAX)
    return float(np.sum(np.log1p(lam * x)))


def _loses(edge: np.ndarray, bar: float, cfg: CalibratorConfig) -> bool:
    """Whether entries with these edges (``won - cost``, in resolution order) lost money beyond
    doubt: at least ``min_band_samples`` of them, a net loss, and a bet on their losing worth
    ``bar`` (the first two only ever make the test stricter)."""
    if len(edge) < cfg.min_band_samples or not edge.sum() < 0.0:
        return False
    return log_wealth(-edge) >= bar


def _best_cut(
    floor: float,
    cuts: np.ndarray,
    edge: np.ndarray,
    x: np.ndarray,
    sense: int,
    bar: float,
    cfg: CalibratorConfig,
) -> float:
    """The cut among ``cuts`` with evidence that keeps the most edge, else ``floor``.

    ``sense`` +1: the gate keeps ``x >= cut`` (min_sigma); -1: it keeps ``x <= cut``
    (the gamma leash). Entries the floor already refuses are not counted.
    """
    ok = np.isfinite(edge) & np.isfinite(x) & (sense * x >= sense * floor)
    x, edge = x[ok], edge[ok]
    best, best_kept = floor, edge.sum()
    for cut in cuts:
        dropped = sense * x < sense * cut
        if not _loses(edge[dropped], bar, cfg):
            continue
        kept = edge[~dropped].sum()
        if kept > best_kept:
            best, best_kept = float(cut), kept
    return best


def band_grid(low: float, high: float, steps: int) -> np.ndarray:
    """``steps`` candidate band edges strictly inside (low, high): evenly spaced in log, or
    linearly when ``low`` is 0."""
    if steps <= 0 or not high > low:
        return np.empty(0)
    space = np.geomspace if low > 0 else np.linspace
    return space(low, high, steps + 2)[1:-1]


def _band_proposal(
    floor_low: float,
    floor_high: float,
    edge: np.ndarray,
    v: np.ndarray,
    bar: float,
    cfg: CalibratorConfig,
) -> tuple[float, float]:
    """The IV/RV band inside the floor band that keeps the most edge: each edge a grid point
    whose cut (the entries under it, or over it) lost money beyond doubt, or the floor's."""
    ok = np.isfinite(v) & np.isfinite(edge) & (v >= floor_low) & (v <= floor_high)
    v, edge = v[ok], edge[ok]
    grid = band_grid(floor_low, floor_high, cfg.band_steps)
    lows = [floor_low] + [float(c) for c in grid if _loses(edge[v < c], bar, cfg)]
    highs = [floor_high] + [float(c) for c in grid if _loses(edge[v > c], bar, cfg)]
    best = (edge.sum(), floor_low, floor_high)
    for low in lows:
        for high in highs:
            kept = edge[(v >= low) & (v <= high)].sum()
            if high > low and kept > best[0]:
                best = (kept, low, high)
    return best[1], best[2]


def _delta_prior(
    d: np.ndarray,
    edge: np.ndarray,
    cost: np.ndarray,
    weight: float,
    bar: float,
    cfg: CalibratorConfig,
) -> DeltaPrior | None:
    """Multipliers for ``delta_buckets`` buckets of |delta| (see the module's notes); None when
    no bucket's edge per share differs from zero beyond doubt."""
    cost = np.asarray(cost, dtype=float)
    ok = np.isfinite(d) & np.isfinite(edge)
    d, edge, cost = d[ok], edge[ok], cost[ok]
    if len(d) < cfg.min_samples:
        return None
    # Bucket edges from the first entries' |delta| only: the same buckets at every later look.
    first = d[: cfg.min_samples]
    bounds = np.unique(np.quantile(first, np.arange(1, cfg.delta_buckets) / cfg.delta_buckets))
    idx = np.searchsorted(bounds, d, side="right")
    mults, means, ses, counts = [], [], [], []
    for b in range(len(bounds) + 1):
        e, c = edge[idx == b], cost[idx == b]
        n = len(e)
        mean = float(e.mean()) if n else 0.0
        se = float(np.sqrt(_null_var(c).sum()) / n) if n else 0.0
        mult = 1.0
        if n >= cfg.min_band_samples:
            won_more = mean > 0 and log_wealth(e) >= bar
            lost_more = mean < 0 and log_wealth(-e) >= bar
            if won_more or lost_more:
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


def _null_var(cost: np.ndarray) -> np.ndarray:
    """Variance of ``won - cost`` per entry if it had no edge (wins with probability ``cost``)."""
    c = np.clip(cost, 1e-6, 1.0 - 1e-6)
    return c * (1.0 - c)


def tighten(floors: dict[str, float], calibrated: dict[str, float]) -> dict[str, float]:
    """Calibrated values re-clamped against (possibly new) floors: never looser than a floor."""
    out = {}
    for key, floor in floors.items():
        value = calibrated.get(key, floor)
        out[key] = _tightest(key, floor, value) if key in TIGHTER else floor
    if BAND_LOW in out and BAND_HIGH in out and out[BAND_LOW] > out[BAND_HIGH]:
        out[BAND_LOW], out[BAND_HIGH] = floors[BAND_LOW], floors[BAND_HIGH]
    return out

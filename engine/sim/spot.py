"""One-second spot paths: GBM with drift, a two-state vol regime, jumps and chop.

Spot is ``S0 * exp(trend + ou)``. ``trend`` is a jump-diffusion whose
per-second log increment is ``(mu - sigma^2/2 - lam k) dt + sigma sqrt(dt) z + J``
(``J ~ N(0, jump_std^2)`` with probability ``lam dt``, ``k = E[e^J] - 1`` keeps the
drift at ``mu``). ``ou`` is the chop: an Ornstein-Uhlenbeck term with half-life
``chop_half_life_s`` whose per-second shock is ``chop`` times the trend's, so a
move made of it reverses within about a minute while the long-horizon vol stays
``vol``. The regime multiplies both by ``vol_high_mult`` while it is high.
"""

from __future__ import annotations

import math

import numpy as np

from engine.sim.books import SECONDS_PER_YEAR


class SpotProcess:
    """Advances the log spot of every symbol by one second per :meth:`advance` call.

    Holds only the present state; each call consumes the random numbers it is
    given, so nothing about the future exists before it is drawn.
    """

    __slots__ = (
        "_s0",
        "_trend",
        "_ou",
        "_high",
        "_vol",
        "_mult",
        "_drift_dt",
        "_sqrt_dt",
        "_jump_p",
        "_jump_std",
        "_jump_comp",
        "_ou_a",
        "_ou_b",
        "_switch_p",
    )

    def __init__(
        self,
        initial: np.ndarray,
        *,
        vol: float,
        drift: float,
        jump_rate_per_day: float,
        jump_std: float,
        chop: float,
        chop_half_life_s: float,
        vol_regime_switch: float,
        vol_high_mult: float,
    ) -> None:
        dt = 1.0 / SECONDS_PER_YEAR
        self._s0 = np.array(initial, dtype=float)
        self._trend = np.zeros_like(self._s0)
        self._ou = np.zeros_like(self._s0)
        self._high = False
        self._vol = vol
        self._mult = vol_high_mult
        self._drift_dt = drift * dt
        self._sqrt_dt = math.sqrt(dt)
        self._jump_p = jump_rate_per_day / 86400.0
        self._jump_std = jump_std
        self._jump_comp = self._jump_p * math.expm1(0.5 * jump_std * jump_std)
        self._ou_a = math.exp(-math.log(2.0) / chop_half_life_s)
        self._ou_b = chop * self._sqrt_dt
        self._switch_p = vol_regime_switch / 3600.0

    @property
    def high_vol(self) -> bool:
        """Whether the vol regime is currently high."""
        return self._high

    def spot(self) -> np.ndarray:
        """Current spot per symbol."""
        return self._s0 * np.exp(self._trend + self._ou)

    def advance(self, z: np.ndarray, u: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """Move one second on and return the new spot.

        ``z``: ``3 * n`` standard normals (diffusion, chop, jump size);
        ``u``: ``n + 1`` uniforms (jump occurrence per symbol, regime switch);
        ``extra``: a log increment per symbol added to the trend (an information
        event's drift), or None.
        """
        n = self._s0.shape[0]
        if u[n] < self._switch_p:
            self._high = not self._high
        sigma = self._vol * self._mult if self._high else self._vol
        step = (self._drift_dt - 0.5 * sigma * sigma / SECONDS_PER_YEAR - self._jump_comp) + (
            sigma * self._sqrt_dt
        ) * z[:n]
        if self._jump_p > 0.0:
            step += np.where(u[:n] < self._jump_p, self._jump_std * z[2 * n :], 0.0)
        if extra is not None:
            step += extra
        self._trend += step
        if self._ou_b > 0.0:
            self._ou *= self._ou_a
            self._ou += (self._ou_b * sigma) * z[n : 2 * n]
        return self.spot()

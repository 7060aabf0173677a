"""Binary-option pricing and volatility estimators: pure numpy, no I/O."""

from engine.core.pricing.binary import (
    MINUTES_PER_YEAR,
    SECONDS_PER_YEAR,
    Greeks,
    ScaledGreeks,
    gamma_norm,
    implied_vol,
    price_greeks,
    scaled_greeks,
)
from engine.core.pricing.vol import EwmaVol, garman_klass, iv_rv_ratio, parkinson, sigma_move

__all__ = [
    "MINUTES_PER_YEAR",
    "SECONDS_PER_YEAR",
    "EwmaVol",
    "Greeks",
    "ScaledGreeks",
    "gamma_norm",
    "garman_klass",
    "implied_vol",
    "iv_rv_ratio",
    "parkinson",
    "price_greeks",
    "scaled_greeks",
    "sigma_move",
]

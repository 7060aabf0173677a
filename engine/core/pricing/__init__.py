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

__all__ = [
    "MINUTES_PER_YEAR",
    "SECONDS_PER_YEAR",
    "Greeks",
    "ScaledGreeks",
    "gamma_norm",
    "implied_vol",
    "price_greeks",
    "scaled_greeks",
]

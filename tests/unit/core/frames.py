"""Build small SignalFrames for gate and sizer tests."""

from __future__ import annotations

import numpy as np

from engine.core.frame import COLUMNS, SignalFrame


def make_frame(n: int = 1, **cols: object) -> SignalFrame:
    defaults: dict[str, object] = {
        "market_id": [f"m{i}" for i in range(n)],
        "symbol": ["BTCUSDT"] * n,
        "side": ["UP"] * n,
        "token_id": [f"m{i}-up" for i in range(n)],
        "trigger": ["t+00060s"] * n,
        "price": [0.30] * n,
        "ask_size": [100.0] * n,
        "fair": [0.40] * n,
        "edge": [0.08] * n,
        "z": [2.0] * n,
        "sigma": [0.5] * n,
        "t_remaining_s": [120.0] * n,
        "fee_rate": [0.07] * n,
        "delta_1pct": [0.1] * n,
        "gamma_1pct": [1.0] * n,
        "vega_1pt": [0.0] * n,
        "theta_1min": [0.0] * n,
        "iv": [0.5] * n,
        "iv_rv": [1.0] * n,
        "window_s": [300.0] * n,
        "depth_usd": [100.0] * n,
    }
    defaults.update(cols)
    arrays = {k: np.asarray(v, dtype=COLUMNS[k][0]) for k, v in defaults.items()}
    return SignalFrame(strategy="test", ts=0.0, **arrays)

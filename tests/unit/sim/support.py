"""Helpers shared by the simulator's tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from engine.core.types import Tick
from engine.sim import MarketSimulator

CONF = Path(__file__).resolve().parents[3] / "conf" / "sim"
YEAR = 365 * 86400
START = 1767571200  # 2026-01-05T00:00:00Z
EPS = 1e-9


def run(sim: MarketSimulator, n: int) -> list[Tick]:
    return [sim.step() for _ in range(n)]


def scenario(name: str, seed: int = 0, **overrides) -> MarketSimulator:
    cfg = OmegaConf.load(CONF / f"{name}.yaml")
    cfg.seed = seed
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    assert kwargs.pop("_target_") == "engine.sim.MarketSimulator"
    kwargs.update(overrides)
    return MarketSimulator(**kwargs)


def ticks_equal(a: Tick, b: Tick) -> bool:
    """Equal ticks: every field, books compared array by array."""
    if (a.ts, a.spot, a.listed, a.resolved) != (b.ts, b.spot, b.listed, b.resolved):
        return False
    if (a.wallet_trades, a.news) != (b.wallet_trades, b.news):
        return False
    if a.books.keys() != b.books.keys():
        return False
    return all(
        np.array_equal(x.bids, b.books[k].bids)
        and np.array_equal(x.asks, b.books[k].asks)
        and x.tick == b.books[k].tick
        and x.ts == b.books[k].ts
        for k, x in a.books.items()
    )


def assert_book_valid(book) -> None:
    t = book.tick
    assert t in (0.01, 0.001)
    assert len(book.bids) >= 1 and len(book.asks) >= 1
    assert book.best_bid < book.best_ask
    for side in (book.bids, book.asks):
        p = side[:, 0]
        assert np.all(side[:, 1] > 0)
        assert np.all(p >= t - EPS) and np.all(p <= 1 - t + EPS)
        assert np.allclose(p / t, np.round(p / t), atol=1e-6)
    assert np.all(np.diff(book.bids[:, 0]) < 0)
    assert np.all(np.diff(book.asks[:, 0]) > 0)

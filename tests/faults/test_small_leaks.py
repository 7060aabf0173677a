"""Small leaks: the calibrator's input in one order on every database; memory that stays flat."""

from __future__ import annotations

import numpy as np
from sqlalchemy import text

from engine.ledger.db import make_engine, make_sessionmaker
from engine.ledger.queries import resolved_entries
from engine.timeutil import to_dt
from tests.helpers import run_edgeloop


def _entries(url: str):
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            return resolved_entries(
                session=session, strategy="updown", since=to_dt(0.0), until=to_dt(4e9)
            )
    finally:
        engine.dispose()


def test_the_calibrators_input_comes_in_one_order_whatever_the_tables_physical_order(pg_url):
    done = run_edgeloop("db=postgres", f"db.url={pg_url}", "run.duration=60m", "run.speed=max")
    assert done.returncode == 0, done.stderr[-2000:]
    before = _entries(pg_url)
    assert len(before.won) > 20
    # An UPDATE moves rows to the end of PostgreSQL's heap: an unordered scan then returns them
    # in another order, and the calibrator's float sums differ in the last digits.
    engine = make_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE orders SET fees = fees WHERE id % 2 = 0"))
        conn.execute(text("UPDATE signals SET z = z WHERE length(key) % 2 = 0"))
    engine.dispose()
    after = _entries(pg_url)
    for name in ("won", "cost", "gamma", "delta", "iv_rv", "z"):
        np.testing.assert_array_equal(getattr(after, name), getattr(before, name), err_msg=name)


def test_the_loop_keeps_state_of_live_markets_only(sqlite_url):
    """What grew without bound (12 MB a simulated day): every signal key ever seen. Sampled
    each simulated hour, the loop's keys and orders belong to live markets only (RSS over two
    simulated days: ``bench/memory.py``, 159 -> 161 MB)."""
    from itertools import islice

    from hydra import compose, initialize_config_dir

    from engine.app import CONF_DIR, build_loop, open_run
    from engine.ledger.db import upgrade_to_head
    from tests.helpers import TEST_SIM

    upgrade_to_head(sqlite_url)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[TEST_SIM, f"db.url={sqlite_url}", "seed=4"])
    engine = make_engine(sqlite_url)
    loop = build_loop(cfg, sessions=make_sessionmaker(engine))
    open_run(cfg, loop, 0)
    sizes = []
    for i, tick in enumerate(islice(loop.feed.ticks(None), 2 * 3600)):
        loop.step(tick)
        if i % 3600 == 3599:
            live = set(loop.state.live.market_id.tolist())
            assert {k.split("|")[1] for k in loop.known_keys} <= live
            assert {o.market_id for o in loop.orders.values()} <= live
            sizes.append(len(loop.known_keys))
    engine.dispose()
    assert loop.counters.signals > 3 * max(sizes), (loop.counters.signals, sizes)

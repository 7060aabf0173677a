"""``hold`` in a real run (issue 15): Up/Down Capture holds one side of a market, never both.

The corridor experiment (Up/Down Capture alone, eight symbols) for 40 simulated minutes: with
``hold=side`` (the old per-side keys) it buys UP and DOWN of the same market in about a fifth of
its markets (22 of 111 over two hours when measured); with the default ``hold=market`` in none.
"""

from __future__ import annotations

import pytest

from tests.helpers import query, run_edgeloop

RUN = ("+experiment=corridor", "adaptive=static", "run.duration=40m", "run.speed=max")
SIDES = (
    "SELECT count(*), coalesce(sum(sides = 2), 0) FROM (SELECT market_id, count(DISTINCT side) "
    "AS sides FROM positions WHERE strategy = 'updown' AND status != 'void' GROUP BY market_id)"
)


@pytest.mark.slow
@pytest.mark.parametrize(("hold", "both"), [("market", False), ("side", True)])
def test_updown_holds_both_sides_of_a_market_only_with_hold_side(tmp_path, hold, both):
    url = f"sqlite:///{tmp_path / 'edgeloop.db'}"
    done = run_edgeloop(*RUN, f"strategies.updown.hold={hold}", f"db.url={url}")
    assert done.returncode == 0, done.stderr[-3000:]
    ((markets, two_sided),) = query(url, SIDES)
    assert markets > 15
    assert (two_sided > 0) is both, (hold, markets, two_sided)

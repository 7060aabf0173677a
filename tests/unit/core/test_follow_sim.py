"""Follow Mirror fed the simulator's own wallet feed: it buys the token each leader bought."""

from __future__ import annotations

from engine.core.sizers import FixedStake
from engine.core.state import MarketState
from engine.core.strategies.follow import FollowMirror
from engine.core.types import BUY, DOWN, UP
from tests.unit.sim.support import scenario


def test_every_candidate_is_the_side_of_the_token_the_leader_bought():
    sim = scenario("lagging_mm", seed=3, leader_noise_per_hour=120.0)
    leaders = [x.wallet for x in sim.leaders]
    strategy = FollowMirror(leaders=leaders, sizers={"fixed": FixedStake(stake=10.0)})
    state = MarketState()
    side_of: dict[str, str] = {}  # token -> outcome, from the listings the feed sent
    rows, trades, sides = 0, 0, set()
    for _ in range(1800):
        tick = sim.step()
        for m in tick.listed:
            side_of[m.up_token], side_of[m.down_token] = UP, DOWN
        state.apply(tick)
        frame = strategy.propose(state, held=set())
        bought = {(t.market_id, t.token_id) for t in tick.wallet_trades}
        assert all(t.side == BUY for t in tick.wallet_trades)  # the sim's leaders only buy
        trades += len(tick.wallet_trades)
        for market, side, token in zip(frame.market_id, frame.side, frame.token_id, strict=True):
            assert (market, token) in bought and side == side_of[token]
        assert frame.accepted.all()  # BUYs of known tokens: nothing skipped at proposal
        rows += len(frame)
        sides.update(frame.side.tolist())
    # 2 leaders x 3 symbols x ~120 an hour for half an hour, minus same-tick duplicates.
    assert trades > 200 and rows > 0.9 * trades
    assert sides == {UP, DOWN}

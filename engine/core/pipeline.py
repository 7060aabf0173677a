"""The decision step: strategies -> gates -> sizer chain. Pure: state in, frames out."""

from __future__ import annotations

from collections.abc import Sequence

from engine.core.frame import SignalFrame
from engine.core.gates import apply_gates
from engine.core.sizers import SizingContext, apply_sizers
from engine.core.state import MarketState
from engine.core.strategies.base import Held, Strategy


def decide(
    state: MarketState, strategies: Sequence[Strategy], *, ctx: SizingContext, held: Held
) -> list[SignalFrame]:
    """Every enabled strategy's candidates at ``state.ts``, gated and sized (empty frames dropped)."""
    frames = []
    for strategy in strategies:
        if not strategy.enabled:
            continue
        frame = strategy.propose(state, held)
        if not len(frame):
            continue
        apply_gates(frame, strategy.gates)
        if frame._ok.any():
            apply_sizers(frame, strategy.sizers, ctx)
        frames.append(frame)
    return frames

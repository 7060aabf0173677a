"""The params of the engine's components as they exist today, for the standalone CLI.

Keys are the Hydra config paths (``conf/``); bounds and units are those of the
components' ``__post_init__`` checks (``engine/core/gates``,
``engine/core/sizers``, ``engine/core/strategies/updown.py``,
``engine/execution/paper.py``, ``engine/drivers/paper.py``). Default values
are not repeated here: they live in ``conf/`` only (one source of truth per
value). The engine registers its own schema at start and may add to this one
with :meth:`Schema.register` / :meth:`Schema.merge`.

Who may change what: the calibrator only tightens gates; the governor retunes
gates, sizers and the strategy's timing; the bankroll and the protected keys
(mode, paper/live, dry run, kill switch, strategy enable flags) are a human's.
"""

from __future__ import annotations

from settings_service.schema import Check, Param, Schema, order_check

HUMAN = frozenset({"human"})
GOVERNOR = frozenset({"human", "governor"})
ALL = frozenset({"human", "governor", "calibrator"})

UPDOWN = "strategies.updown"
GATES = f"{UPDOWN}.gates"
SIZERS = f"{UPDOWN}.sizers"

PARAMS: list[Param] = [
    # Protected: switching these changes what the engine is allowed to do, not how well.
    Param(
        "mode.name",
        str,
        unit="",
        description="the driver: paper trades on the paper venue, live sends real orders",
        writers=HUMAN,
        protected=True,
        choices=("paper", "live", "backtest"),
    ),
    Param(
        "dry_run",
        bool,
        description="decide and record, but send no order to any venue",
        writers=HUMAN,
        protected=True,
    ),
    Param(
        "kill_switch",
        bool,
        description="stop opening positions at once (open ones run to resolution)",
        writers=HUMAN,
        protected=True,
    ),
    Param(
        f"{UPDOWN}.enabled",
        bool,
        description="Up/Down Capture proposes candidates",
        writers=HUMAN,
        protected=True,
    ),
    # Up/Down Capture's timing (engine/core/strategies/updown.py).
    Param(
        f"{UPDOWN}.lookback_s",
        int,
        1,
        600,
        "s",
        "the move z is measured over the last lookback_s seconds",
        writers=GOVERNOR,
    ),
    Param(
        f"{UPDOWN}.eval_every_s",
        int,
        1,
        3600,
        "s",
        "propose a candidate per live market every eval_every_s seconds of its window",
        writers=GOVERNOR,
    ),
    Param(
        f"{UPDOWN}.min_elapsed_s",
        int,
        1,
        86_400,
        "s",
        "no candidate before this many seconds of the window have passed",
        writers=GOVERNOR,
    ),
    Param(
        f"{UPDOWN}.min_remaining_s",
        int,
        0,
        86_400,
        "s",
        "no candidate when fewer seconds than this remain in the window",
        writers=GOVERNOR,
    ),
    # Gates (engine/core/gates): the calibrator may tighten them from resolved outcomes.
    Param(
        f"{GATES}.sigma.min_sigma",
        float,
        0.0,
        10.0,
        "sigma",
        "fire only when |z| >= min_sigma",
        writers=ALL,
    ),
    Param(
        f"{GATES}.dead_zone.low",
        float,
        0.0,
        1.0,
        "probability",
        "skip entries priced in [low, high] (coin flips)",
        writers=ALL,
    ),
    Param(
        f"{GATES}.dead_zone.high",
        float,
        0.0,
        1.0,
        "probability",
        "skip entries priced in [low, high] (coin flips)",
        writers=ALL,
    ),
    Param(
        f"{GATES}.max_odds.max_price",
        float,
        0.0,
        1.0,
        "probability",
        "pass when the entry price <= max_price",
        writers=ALL,
        lo_open=True,
    ),
    Param(
        f"{GATES}.min_edge.min_edge",
        float,
        -1.0,
        1.0,
        "probability",
        "pass when fair - price - taker fee >= min_edge",
        writers=ALL,
    ),
    # Sizers (engine/core/sizers).
    Param(
        f"{SIZERS}.kelly.kelly_fraction",
        float,
        0.0,
        1.0,
        "fraction",
        "stake = bankroll x kelly_fraction x f*",
        writers=GOVERNOR,
        lo_open=True,
    ),
    Param(
        f"{SIZERS}.stake_cap.max_stake",
        float,
        0.0,
        1e7,
        "USD",
        "cap on one stake",
        writers=GOVERNOR,
        lo_open=True,
    ),
    Param(
        f"{SIZERS}.stake_cap.max_bankroll_fraction",
        float,
        0.0,
        1.0,
        "fraction",
        "cap on one stake as a fraction of the bankroll",
        writers=GOVERNOR,
        lo_open=True,
    ),
    # Execution (engine/execution/paper.py) and the run (engine/drivers/paper.py).
    Param(
        "venue.slippage_ticks",
        int,
        0,
        100,
        "ticks",
        "limit price = ask + slippage_ticks ticks (the venue's tick at that price)",
        writers=GOVERNOR,
    ),
    Param(
        "run.bankroll",
        float,
        0.0,
        1e9,
        "USD",
        "paper bankroll the sizers size against",
        writers=HUMAN,
        lo_open=True,
    ),
]

CHECKS: list[Check] = [order_check(f"{GATES}.dead_zone.low", f"{GATES}.dead_zone.high")]


def default_schema() -> Schema:
    """A fresh schema of today's params (callers may register more on it)."""
    return Schema.of(PARAMS, CHECKS)

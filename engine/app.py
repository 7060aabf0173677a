"""``edgeloop``: the Hydra app. Composes ``conf/``, builds the components, runs the mode.

edgeloop                                        # paper engine on the calm simulator, until Ctrl-C
edgeloop run.duration=2h sim.speed=max seed=7   # a bounded run; ends by printing the ledger
edgeloop sim=choppy strategies.updown.gates.sigma.min_sigma=2.0
edgeloop db=postgres db.url=postgresql+psycopg://127.0.0.1/edgeloop
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig
from sqlalchemy import inspect

from engine.components import build, build_all
from engine.core.state import MarketState
from engine.core.validation import ConfigError
from engine.drivers.paper import PaperDriver
from engine.ledger.cli import render_ledger
from engine.ledger.db import make_engine, make_sessionmaker, upgrade_to_head

log = logging.getLogger("edgeloop")
MODES = ("paper",)
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def build_driver(cfg: DictConfig, sessions) -> PaperDriver:  # noqa: ANN001
    """Every component from its config node; a bad value raises ConfigError naming the key."""
    if cfg.mode.name not in MODES:
        raise ConfigError(
            "mode.name",
            cfg.mode.name,
            f"must be one of {list(MODES)} (backtest and live come later)",
        )
    if not cfg.strategies:
        raise ConfigError("strategies", {}, "must enable at least one strategy")
    return PaperDriver(
        sim=build(cfg.sim, "sim"),
        state=MarketState(build(cfg.vol, "vol")),
        strategies=list(build_all(cfg.strategies, "strategies").values()),
        venue=build(cfg.venue, "venue"),
        sessions=sessions,
        run=build(cfg.run, "run"),
    )


def prepare_database(url: str, migrate: bool):  # noqa: ANN201
    """Migrate to head when asked; refuse to run on a database without the ledger tables."""
    if migrate:
        upgrade_to_head(url)
    engine = make_engine(url)
    if not inspect(engine).has_table("signals"):
        raise ConfigError(
            "db.url", url, "has no ledger tables: run `alembic upgrade head` or set db.migrate=true"
        )
    return engine


def run(cfg: DictConfig) -> int:
    try:
        # Build (and so validate) every component before touching the database.
        driver = build_driver(cfg, sessions=None)
        engine = prepare_database(cfg.db.url, cfg.db.migrate)
        driver.sessions = make_sessionmaker(engine)
    except ConfigError as exc:
        print(f"edgeloop: configuration error: {exc}", file=sys.stderr)
        return 2
    log.info(
        "edgeloop %s on %s, db=%s",
        cfg.mode.name,
        type(driver.sim).__name__,
        engine.url.render_as_string(hide_password=True),
    )
    try:
        driver.run()
    except KeyboardInterrupt:
        log.warning("interrupted twice: stopped between ticks")
    with driver.sessions() as session:
        print(render_ledger(session))
    engine.dispose()
    return 0


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def main(cfg: DictConfig) -> None:
    code = run(cfg)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main()

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
from engine.drivers.closed_loop import ClosedLoop
from engine.drivers.paper import Components, PaperDriver
from engine.ledger.cli import render_ledger
from engine.ledger.db import make_engine, make_sessionmaker, upgrade_to_head
from engine.settings_link import LiveSettings

log = logging.getLogger("edgeloop")
MODES = ("paper",)
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def build_components(cfg: DictConfig) -> Components:
    """What a settings version may change: strategies, venue, run settings, kill switch."""
    if not cfg.strategies:
        raise ConfigError("strategies", {}, "must enable at least one strategy")
    if not isinstance(cfg.kill_switch, bool):
        raise ConfigError("kill_switch", cfg.kill_switch, "must be true or false")
    return Components(
        strategies=list(build_all(cfg.strategies, "strategies").values()),
        venue=build(cfg.venue, "venue"),
        run=build(cfg.run, "run"),
        kill_switch=cfg.kill_switch,
    )


def build_driver(cfg: DictConfig, sessions) -> PaperDriver:  # noqa: ANN001
    """Every component from its config node; a bad value raises ConfigError naming the key."""
    if cfg.mode.name not in MODES:
        raise ConfigError(
            "mode.name",
            cfg.mode.name,
            f"must be one of {list(MODES)} (backtest and live come later)",
        )
    return PaperDriver(
        sim=build(cfg.sim, "sim"),
        state=MarketState(build(cfg.vol, "vol")),
        components=build_components(cfg),
        sessions=sessions,
        rebuild=build_components,
        loop=ClosedLoop(
            calibrator=build(cfg.adaptive.calibrator, "adaptive.calibrator"),
            regime_config=build(cfg.adaptive.regime, "adaptive.regime"),
            breaker_config=build(cfg.adaptive.breaker, "adaptive.breaker"),
        ),
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
    settings = None
    try:
        # Build (and so validate) every component before touching the database.
        driver = build_driver(cfg, sessions=None)
        settings_cfg = build(cfg.settings, "settings")
        engine = prepare_database(cfg.db.url, cfg.db.migrate)
        driver.sessions = make_sessionmaker(engine)
        if settings_cfg.enabled:
            settings = LiveSettings(cfg, cfg.db.url, settings_cfg)
            version, live_cfg = settings.start()
            if version:
                driver.reconfigure(version, build_components(live_cfg))
            driver.settings = settings
    except ConfigError as exc:
        print(f"edgeloop: configuration error: {exc}", file=sys.stderr)
        if settings is not None:
            settings.stop()
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
    finally:
        if settings is not None:
            settings.stop()
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

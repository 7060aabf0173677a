"""``edgeloop``: the Hydra app. Composes ``conf/``, builds the components, runs the mode.

edgeloop                                          # paper engine on the calm simulator, until Ctrl-C
edgeloop run.duration=2h run.speed=max seed=7     # a bounded run; ends by printing its ledger
edgeloop run.resume=last run.duration=4h          # continue the latest run (same configuration)
edgeloop sim=choppy strategies.updown.gates.sigma.min_sigma=2.0
edgeloop db=postgres db.url=postgresql+psycopg://127.0.0.1/edgeloop
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationToMissingValueError, MissingMandatoryValue
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.backtest import tuning
from engine.components import build, build_all
from engine.core.state import MarketState
from engine.core.validation import ConfigError, check_range
from engine.drivers.closed_loop import ClosedLoop
from engine.drivers.loop import Components, EngineLoop
from engine.drivers.outage import Outage, describe, is_outage
from engine.ledger import runs, writes
from engine.ledger.cli import render_ledger
from engine.ledger.db import check_database, make_sessionmaker
from engine.ledger.staging import StagedLedger
from engine.settings_link import LiveSettings, SettingsConfig
from settings_service.components import MODES, PROTECTED_SWITCHES
from settings_service.dbcheck import DatabaseError, translated
from settings_service.dbconn import DbLimits, set_default_limits

log = logging.getLogger("edgeloop")
BACKTEST = "backtest"
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def build_components(cfg: DictConfig) -> Components:
    """What a settings version may change: strategies, venue, run settings, kill switch."""
    if not cfg.strategies:
        raise ConfigError("strategies", {}, "must enable at least one strategy")
    for key in PROTECTED_SWITCHES:
        if not isinstance(cfg.get(key, False), bool):
            raise ConfigError(key, cfg.get(key), "must be true or false")
    return Components(
        strategies=list(build_all(cfg.strategies, "strategies").values()),
        venue=build(cfg.venue, "venue"),
        run=build(cfg.run, "run"),
        kill_switch=cfg.kill_switch,
        entries_paused=cfg.get("entries_paused", False),
    )


def build_loop(cfg: DictConfig, sessions) -> EngineLoop:  # noqa: ANN001
    """Every component from its config node; a bad value raises ConfigError naming the key."""
    if cfg.mode.name not in MODES:
        raise ConfigError(
            "mode.name",
            cfg.mode.name,
            f"must be one of {list(MODES)} (live comes later)",
        )
    if cfg.mode.name == BACKTEST:
        batch = cfg.backtest.batch_rows
        check_range("backtest.batch_rows", batch, 1, 1_000_000)
        if int(batch) != batch:
            raise ConfigError("backtest.batch_rows", batch, "must be a whole number of rows")
        if cfg.run.get("resume") is not None:
            raise ConfigError(
                "run.resume",
                cfg.run.resume,
                "a backtest is never resumed: run it again (the same corpus and configuration "
                "give the same run)",
            )
    return EngineLoop(
        feed=build(cfg.feed, "feed"),
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


def prepare_database(url: str, migrate: bool) -> Engine:
    """The start checks (:func:`engine.ledger.db.check_database`): the URL, the connection,
    ``PRAGMA quick_check`` on SQLite, the revision; migrates to head first when ``migrate``
    (``db.migrate``, on by default for SQLite). Raises ``DatabaseError`` with the exit code."""
    return check_database(url, migrate=migrate)


def open_run(cfg: DictConfig, loop: EngineLoop, settings_version: int) -> float | None:
    """Start a new run, or reopen the one ``run.resume`` names; returns its resume instant."""
    config = OmegaConf.to_container(cfg, resolve=True)
    fp = runs.fingerprint(config)  # type: ignore[arg-type]
    ref = cfg.run.get("resume")
    with loop.sessions.begin() as session:
        if ref is None:
            try:
                run = runs.start_run(
                    session=session,
                    name=cfg.run.get("name"),
                    mode=cfg.mode.name,
                    feed_identity=loop.feed.identity(),
                    fingerprint=fp,
                    config=config,  # type: ignore[arg-type]
                    settings_version=settings_version,
                )
            except LookupError as exc:
                raise ConfigError("run.name", cfg.run.get("name"), str(exc)) from None
            loop.resume(run.id, None)
            log.info("%s started (fingerprint %s)", runs.describe(run), fp)
            return None
        try:
            run = runs.find_run(session=session, ref=ref)
        except LookupError as exc:
            raise ConfigError("run.resume", ref, str(exc)) from None
        if run.fingerprint != fp:
            raise ConfigError(
                "run.resume",
                ref,
                f"{runs.describe(run)} was made with configuration {run.fingerprint}, "
                f"this one is {fp}: only pacing, duration, logging and the database may "
                "differ (start a new run without run.resume instead)",
            )
        stored = (run.feed_identity or {}).get("fingerprint")
        current = loop.feed.identity().get("fingerprint")
        if stored is not None and current is not None and stored != current:
            raise ConfigError(
                "run.resume",
                ref,
                f"{runs.describe(run)} was fed data with fingerprint {stored}, the feed now "
                f"holds {current}: its files changed (start a new run without run.resume)",
            )
        runs.reopen_run(session=session, run_id=run.id)
        run_id = run.id
        after = writes.last_written_ts(session=session, run_id=run_id)
    loop.resume(run_id, after)
    return after


def attach(
    cfg: DictConfig, loop: EngineLoop, sessions: sessionmaker[Session], settings_cfg: SettingsConfig
) -> None:
    """Give ``loop`` its database: the settings layer in force and the run it writes (new, or
    the one ``run.resume`` names)."""
    loop.sessions = sessions
    settings = None
    try:
        if settings_cfg.enabled:
            settings = LiveSettings(cfg, cfg.db.url, settings_cfg)
            version, components = settings.start(build_components)
            if settings.seen:
                loop.reconfigure(version, components)
            loop.settings = settings
        open_run(cfg, loop, loop.settings_version)
        if settings is not None:
            settings.bind(loop.run_id)
    except BaseException:
        if settings is not None:
            settings.stop()
        raise


def recover(
    cfg: DictConfig, loop: EngineLoop, engine: Engine, limits: DbLimits, error: Exception
) -> EngineLoop | None:
    """After ``loop`` stopped on an unreachable database: wait until it answers, then a new
    loop resuming the same run from the ledger, as ``run.resume=<run id>`` does after a
    restart (the old loop's memory is not trusted: its last tick may or may not be stored).
    None when a stop was requested while waiting."""
    if loop.settings is not None:
        loop.settings.stop()
    resume_cfg = OmegaConf.merge(cfg, {"run": {"resume": loop.run_id}})
    settings_cfg = build(cfg.settings, "settings")
    with Outage(engine, limits, error) as outage:
        while outage.wait():
            resumed = build_loop(resume_cfg, sessions=None)
            try:
                attach(resume_cfg, resumed, loop.sessions, settings_cfg)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                outage.failed(exc)
                continue
            outage.over(resumed.run_id)
            return resumed
    return None


def run(cfg: DictConfig) -> int:
    try:
        # Build (and so validate) every component before touching the database.
        loop = build_loop(cfg, sessions=None)
        settings_cfg = build(cfg.settings, "settings")
        limits = build(cfg.db.limits, "db.limits")
        set_default_limits(limits)  # every engine of this process, the settings store's too
        engine = prepare_database(cfg.db.url, cfg.db.migrate)
        with translated(cfg.db.url):
            attach(cfg, loop, make_sessionmaker(engine), settings_cfg)
            staged = None
            if cfg.mode.name == BACKTEST:
                # The run lives in a scratch ledger while it replays; publish() writes it at the end.
                staged = StagedLedger(loop.sessions, loop.run_id)
                target, loop.sessions = loop.sessions, staged.sessions
    except ConfigError as exc:
        print(f"edgeloop: configuration error: {exc}", file=sys.stderr)
        return 2
    except (MissingMandatoryValue, InterpolationToMissingValueError) as exc:
        # `???` in conf/ (backtest.corpus): through an interpolation the message names the key.
        named = str(exc).rpartition("Missing mandatory value: ")[2].split()
        key = named[0] if named else exc.full_key
        print(
            f"edgeloop: configuration error: {key} is not set (give it: `{key}=...`)",
            file=sys.stderr,
        )
        return 2
    except DatabaseError as exc:
        print(f"edgeloop: {exc}", file=sys.stderr)
        return exc.exit_code
    log.info(
        "edgeloop %s, run %d, feed %s, venue %s, db=%s",
        cfg.mode.name,
        loop.run_id,
        type(loop.feed).__name__,
        type(loop.venue).__name__,
        engine.url.render_as_string(hide_password=True),
    )
    status = runs.FAILED
    try:
        while True:  # the supervisor: a database outage stops the loop, never the engine
            try:
                loop.run()
                break
            except Exception as exc:
                if not is_outage(exc):
                    raise
                resumed = recover(cfg, loop, engine, limits, exc)
                if resumed is None:
                    break
                loop = resumed
        status = runs.FINISHED if loop.finished else runs.STOPPED
    except KeyboardInterrupt:
        log.warning("interrupted twice: stopped between ticks")
        status = runs.STOPPED
    finally:
        if loop.settings is not None:
            loop.settings.stop()
        ended = _end_run(loop, status)
        if staged is not None:
            ended = ended and _publish(staged, cfg.backtest.batch_rows)
            loop.sessions = target
    if ended:
        with loop.sessions() as session:
            print(render_ledger(session, [loop.run_id]))
    engine.dispose()
    return 0 if ended else 1


def _end_run(loop: EngineLoop, status: str) -> bool:
    """Mark the run ``status``; False (and said) when the ledger cannot be written."""
    try:
        with loop.sessions.begin() as session:
            runs.end_run(session=session, run_id=loop.run_id, status=status)
    except Exception as exc:
        if not is_outage(exc):
            raise
        log.error(
            "run %d not marked %s: the ledger is unreachable (%s); its rows are safe, "
            "`run.resume=%d` continues it",
            loop.run_id,
            status,
            describe(exc),
            loop.run_id,
        )
        return False
    return True


def _publish(staged: StagedLedger, batch_rows: int) -> bool:
    """Write a backtest's run to its database (one transaction); False (and said) if it fails."""
    try:
        written = staged.publish(batch=batch_rows)
    except Exception as exc:  # noqa: BLE001 - whatever it is, the database holds none of it
        log.error(
            "backtest run %d not written to the database (nothing of it was): %s",
            staged.run_id,
            describe(exc),
        )
        try:
            with staged.target.begin() as session:
                runs.end_run(session=session, run_id=staged.run_id, status=runs.FAILED)
        except Exception as again:  # noqa: BLE001 - said, and the run stays 'running'
            log.error("run %d not marked failed either: %s", staged.run_id, describe(again))
        return False
    finally:
        staged.close()
    log.info(
        "backtest run %d written: %s",
        staged.run_id,
        ", ".join(f"{n} {table}" for table, n in written.items() if n),
    )
    return True


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def main(cfg: DictConfig) -> float | None:
    if tuning.is_trial(cfg):
        # One job of `edgeloop -m mode=backtest ...`: the sweeper optimizes what it returns.
        return tuning.objective(cfg, run)
    code = run(cfg)
    if code:
        sys.exit(code)
    return None


if __name__ == "__main__":
    main()

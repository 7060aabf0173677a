"""The kill switch always works: a version the running engine cannot build does not block it.

Reproduces the reported fault: a run built with ``dead_zone.high=0.5``; a writer, validating
against the default configuration (``high`` 0.58), writes ``dead_zone.low=0.55``: a version
this engine cannot build. Every later version carries that key too (documents are
cumulative), so before the fix ``kill_switch=true`` was never applied and orders kept going
out. Here the engine is stepped tick by tick, in-process, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import signal
import subprocess
import time
from itertools import islice

from hydra import compose, initialize_config_dir
from sqlalchemy import select

from engine.app import CONF_DIR, build_components, build_loop, open_run
from engine.ledger.db import make_engine, make_sessionmaker
from engine.ledger.models import OrderRow
from engine.settings_link import LiveSettings, SettingsConfig
from settings_service import SettingsStore
from settings_service.components import schema_for_config
from tests.helpers import BIN, ROOT, TEST_SIM, edgeloop_cmd, query, wait_for

LOW = "strategies.updown.gates.dead_zone.low"
POISON_AT, KILL_AT, TICKS = 900, 1500, 2400


def _cfg(url: str, *extra: str):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(
            "config",
            overrides=[
                TEST_SIM,
                f"db.url={url}",
                "seed=3",
                "run.speed=max",
                "strategies.updown.gates.dead_zone.high=0.5",
                "strategies.updown.gates.dead_zone.low=0.45",
                *extra,
            ],
        )


def _writer(url: str) -> SettingsStore:
    """A writer like the CLI: the default configuration's schema and values."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        default = compose("config")
    from omegaconf import OmegaConf

    plain = OmegaConf.to_container(default, resolve=False)
    return SettingsStore(url, schema=schema_for_config(plain))


def _start(url: str):
    cfg = _cfg(url)
    engine = make_engine(url)
    loop = build_loop(cfg, sessions=make_sessionmaker(engine))
    settings = LiveSettings(cfg, url, SettingsConfig())
    version, components = settings.start(build_components)
    if settings.seen:
        loop.reconfigure(version, components)
    loop.settings = settings
    open_run(cfg, loop, loop.settings_version)
    settings.bind(loop.run_id)
    return loop, settings, engine


def test_a_kill_switch_after_a_poisoned_version_stops_entries_within_one_tick(db_url):
    loop, settings, engine = _start(db_url)
    writer = _writer(db_url)
    per_tick: list[int] = []
    try:
        for i, tick in enumerate(islice(loop.feed.ticks(None), TICKS)):
            if i == POISON_AT:
                poison = writer.write(
                    {LOW: 0.55}, author="ops", author_kind="human", reason="poison",
                    expected_version=0,
                )  # fmt: skip
            if i == KILL_AT:
                kill = writer.write(
                    {"kill_switch": True}, author="ops", author_kind="human", reason="halt",
                    expected_version=poison.id,
                )  # fmt: skip
            before = loop.counters.orders
            loop.step(tick)
            per_tick.append(loop.counters.orders - before)
    finally:
        settings.stop()
    # Orders flowed right up to the kill switch, with the poisoned version refused ...
    assert sum(per_tick[POISON_AT:KILL_AT]) > 0
    assert loop.settings_version == 0
    # ... and not one order went out from the tick after the kill switch was committed.
    assert sum(per_tick[KILL_AT:]) == 0, per_tick[KILL_AT : KILL_AT + 20]
    assert loop.components.kill_switch is True
    answers = writer.applications([poison.id, kill.id])
    assert [(a.status, a.run_id) for a in answers[poison.id]] == [("refused", loop.run_id)]
    assert "dead_zone" in answers[poison.id][0].reason
    assert answers[kill.id][0].status == "refused"
    assert answers[kill.id][0].protected == {"kill_switch": True, "entries_paused": False}
    # Working orders were cancelled by the kill switch, and say so in the ledger.
    with make_sessionmaker(engine)() as session:
        working = session.scalars(
            select(OrderRow).where(OrderRow.run_id == loop.run_id, OrderRow.done.is_(False))
        ).all()
    assert working == []
    writer.close()
    engine.dispose()


def test_paused_entries_apply_alone_and_a_restart_starts_on_the_last_good_version(db_url):
    writer = _writer(db_url)
    good = writer.write(
        {"strategies.updown.gates.sigma.min_sigma": 1.8}, author="ops", author_kind="human",
        reason="tighter", expected_version=0,
    )  # fmt: skip
    poison = writer.write(
        {LOW: 0.55}, author="ops", author_kind="human", reason="poison", expected_version=good.id
    )
    paused = writer.write(
        {"entries_paused": True}, author="ops", author_kind="human", reason="pause",
        expected_version=poison.id,
    )  # fmt: skip
    # A restart on a store whose latest version cannot be built: the last good version
    # (v1, which this run can build) plus the latest's protected switches.
    loop, settings, engine = _start(db_url)
    try:
        assert loop.settings_version == good.id
        strategy = next(s for s in loop.components.strategies if s.name == "updown")
        assert strategy.gates["sigma"].min_sigma == 1.8
        assert loop.components.entries_paused is True and loop.components.kill_switch is False
        orders = 0
        for tick in islice(loop.feed.ticks(None), KILL_AT):
            loop.step(tick)
        orders = loop.counters.orders
    finally:
        settings.stop()
    assert orders == 0
    answers = writer.applications([paused.id])[paused.id]
    assert [(a.status, a.protected["entries_paused"]) for a in answers] == [("refused", True)]
    writer.close()
    engine.dispose()


def _cli(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "edgeloop-settings"), "--db", url, *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_writer_is_told_when_the_running_engine_refuses_and_the_kill_switch_still_acts(
    db_url,
):
    count = "SELECT count(*) FROM orders"
    proc = subprocess.Popen(
        edgeloop_cmd(
            *(["db=postgres"] if db_url.startswith("postgresql") else []),
            f"db.url={db_url}",
            "seed=3",
            "run.speed=60",
            "run.duration=6h",
            "strategies.updown.gates.dead_zone.high=0.5",
            "strategies.updown.gates.dead_zone.low=0.45",
        ),
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert wait_for(lambda: query(db_url, count)[0][0] > 0, timeout=120), "no orders"
        poisoned = _cli(db_url, "set", f"{LOW}=0.55", "--reason", "poison")
        assert poisoned.returncode == 5, poisoned.stdout + poisoned.stderr
        assert "REFUSED" in poisoned.stdout and "dead_zone" in poisoned.stderr
        killed = _cli(db_url, "set", "kill_switch=true", "--reason", "halt")
        assert killed.returncode == 5, killed.stdout + killed.stderr
        assert "its protected switches applied: kill_switch=true" in killed.stdout
        after_kill = query(db_url, count)[0][0]
        time.sleep(3.0)  # 3 minutes of feed time at 60x
        assert query(db_url, count)[0][0] == after_kill
        history = _cli(db_url, "history")
        assert history.returncode == 0, history.stderr
        assert history.stdout.count("REFUSED") == 2
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-3000:]
    assert "settings v1 refused" in out and "settings v2 refused" in out

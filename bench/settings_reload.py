"""How fast a settings write reaches a running subscriber: PostgreSQL NOTIFY vs SQLite polling.

    .venv/bin/python bench/settings_reload.py [--writes 200] [--sqlite-writes 50] [--poll-s 1.0]

On a scratch PostgreSQL database (created and dropped here, on the server at
``$EDGELOOP_TEST_PG_ADMIN``, default the local one) a watcher runs while
``--writes`` writes land one after another; each write waits for its
``on_change`` before the next, so every latency is measured alone. Then the
same on a SQLite file with the polling watcher (random phase before each write,
so the polling interval is sampled fairly).

Latency of a version is ``on_change`` time minus the moment ``write()``
returned (the commit is acknowledged). The commit happens inside ``write()``,
so the subscriber can hear of it before ``write()`` returns: such negative
latencies are kept. ``from call`` is measured from the start of ``write()``
(an upper bound, including the write itself). Targets: PostgreSQL p99 < 50 ms,
SQLite p99 < 2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.ledger.db import upgrade_to_head  # noqa: E402
from settings_service import SettingsStore, watch  # noqa: E402

PG_ADMIN = os.environ.get("EDGELOOP_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
KEY = "strategies.updown.gates.sigma.min_sigma"


def measure(url: str, writes: int, *, poll_s: float, jitter_s: float) -> dict[str, np.ndarray]:
    heard: dict[int, float] = {}
    arrived = threading.Condition()

    def on_change(version: int, _document: dict) -> None:
        now = time.perf_counter()
        with arrived:
            heard[version] = now
            arrived.notify_all()

    store = SettingsStore(url)
    from_return, from_call = [], []
    watcher = watch(url, on_change, poll_s=poll_s, since=store.latest_id())
    try:
        for i in range(writes):
            if jitter_s:
                time.sleep(random.uniform(0.0, jitter_s))
            expected = store.latest_id()
            t_call = time.perf_counter()
            version = store.write(
                {KEY: 1.5 + (i % 50) / 10},
                author="bench",
                author_kind="governor",
                reason=f"bench write {i}",
                expected_version=expected,
            ).id
            t_return = time.perf_counter()
            with arrived:
                if not arrived.wait_for(lambda v=version: v in heard, timeout=10.0):
                    raise RuntimeError(f"version {version} never reached the subscriber")
            from_return.append(heard[version] - t_return)
            from_call.append(heard[version] - t_call)
    finally:
        watcher.stop()
        store.close()
    return {"from_return": np.array(from_return), "from_call": np.array(from_call)}


def pg_scratch() -> tuple[str, str]:
    name = f"edgeloop_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    admin = make_url(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1))
    return name, admin.set(database=name).render_as_string(hide_password=False)


def pg_drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def row(store: str, transport: str, lat: dict[str, np.ndarray], target_s: float) -> list[str]:
    ms = {k: v * 1000.0 for k, v in lat.items()}
    p50, p99 = np.percentile(ms["from_return"], [50, 99])
    p99_call = np.percentile(ms["from_call"], 99)
    met = "met" if np.percentile(ms["from_call"], 99) < target_s * 1000 else "MISSED"
    return [
        store,
        transport,
        str(len(ms["from_return"])),
        f"{p50:.2f}",
        f"{p99:.2f}",
        f"{ms['from_return'].max():.2f}",
        f"{p99_call:.2f}",
        f"p99 < {target_s * 1000:.0f} ms",
        met,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--sqlite-writes", type=int, default=50)
    parser.add_argument("--poll-s", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    random.seed(args.seed)

    name, url = pg_scratch()
    try:
        upgrade_to_head(url)
        pg = measure(url, args.writes, poll_s=args.poll_s, jitter_s=0.0)
    finally:
        pg_drop(name)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade_to_head(url)
        lite = measure(url, args.sqlite_writes, poll_s=args.poll_s, jitter_s=args.poll_s)

    headers = ["store", "transport", "writes", "p50 ms", "p99 ms", "max ms", "p99 from call ms"]
    headers += ["target (from call)", "result"]
    rows = [
        row("postgresql", "LISTEN/NOTIFY", pg, 0.050),
        row("sqlite", f"poll every {args.poll_s:g} s", lite, 2.0),
    ]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    print("write commit -> on_change in the subscriber (a running watcher, one write at a time)")
    for r in [headers, ["-" * w for w in widths], *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()

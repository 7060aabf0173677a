"""A PostgreSQL cluster of the tests' own, to stop, kill and freeze (never the shared server).

``pg_cluster`` (one per session) runs ``initdb`` into a temporary folder as the ``postgres``
OS user (initdb refuses root), starts it on a free port of 127.0.0.1 with its socket in that
folder, and migrates a template database to head once; ``pg_cluster.new_database()`` is a
migrated database of its own for each test (a copy of the template: milliseconds).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from engine.ledger.db import upgrade_to_head

PG_BIN = Path(os.environ.get("EDGELOOP_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
TEMPLATE = "edgeloop_template"
# Durability is not under test here: a fast crash recovery keeps the restarts short.
SERVER_OPTIONS = "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One PostgreSQL cluster under ``root``: start, stop, freeze and thaw it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = _free_port()
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self._frozen: list[int] = []

    def _pg(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self._as_postgres, str(PG_BIN / tool), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def init(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 {SERVER_OPTIONS}"
        self._pg(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m mode``: ``immediate`` is a crash (no shutdown checkpoint)."""
        self.thaw()
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def start_if_stopped(self) -> None:
        """Leave the cluster running for the next test, whatever this one did to it."""
        self.thaw()
        status = subprocess.run(
            [*self._as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
        )
        if status.returncode != 0:
            self.start()

    def pids(self) -> list[int]:
        """The postmaster and all its children."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True
        ).stdout.split()
        return [postmaster, *map(int, children)]

    def freeze(self) -> None:
        """SIGSTOP every server process: connections stay open and the kernel still ACKs."""
        self._frozen = self.pids()
        for pid in self._frozen:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self._frozen = []

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute(sql)

    def new_database(self) -> str:
        """A fresh database at the ledger's and the settings' head revision."""
        name = f"edgeloop_f_{uuid.uuid4().hex[:10]}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="edgeloop-pg-", dir="/tmp"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(root)
    try:
        cluster.init()
        cluster.start()
        cluster.admin(f"CREATE DATABASE {TEMPLATE}")
        upgrade_to_head(cluster.url(TEMPLATE))
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            cluster.stop("immediate")  # fails when it never started
        shutil.rmtree(root, ignore_errors=True)

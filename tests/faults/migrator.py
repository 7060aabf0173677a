"""A migrating process to kill: it forks one child per ``upgrade_to_head`` the test asks for.

Python's start-up (half a second and more) would otherwise dwarf the migration being killed;
forked from a process that has imported everything and migrated once, a child starts
migrating at once. Protocol, one line each: once it said ``ready``, the test writes a URL,
reads the child's pid,
may SIGKILL it, writes ``reap`` and reads its wait status (0: the upgrade finished).
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from engine.ledger.db import upgrade_to_head
from tests.helpers import ROOT


def serve() -> None:
    upgrade_to_head("sqlite://")  # warm: alembic, env.py, every revision module imported
    print("ready", flush=True)
    while url := sys.stdin.readline().strip():
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                upgrade_to_head(url)
            except BaseException:  # noqa: BLE001 - said on stderr, and by the exit status
                traceback.print_exc()
                code = 1
            os._exit(code)
        print(pid, flush=True)
        sys.stdin.readline()
        print(os.waitpid(pid, 0)[1], flush=True)


class Migrator:
    """The test's end of the protocol."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc

    def start(self, url: str) -> int:
        self.proc.stdin.write(url + "\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def reap(self) -> int:
        self.proc.stdin.write("reap\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())


@contextmanager
def migrator(stderr) -> Iterator[Migrator]:  # noqa: ANN001 - a file for the children's tracebacks
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.migrator"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    try:
        assert proc.stdout.readline() == "ready\n", "the migrator did not start"
        yield Migrator(proc)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


if __name__ == "__main__":
    serve()

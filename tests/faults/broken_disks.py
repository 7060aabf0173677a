"""Real broken storage for the tests: a damaged page, a read-only mount, a full disk.

The mounts are tmpfs (``mount`` needs root, as in CI). Root writes through ``chmod 0444``
(CAP_DAC_OVERRIDE), so a read-only file is a file on a mount remounted read-only: nobody,
root included, can write it.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest


def damage(path: Path, index: str = "ix_regime_changes_ts") -> None:
    """Overwrite the root page of ``index`` (one no ledger query reads) with garbage, as a
    torn write or a bad sector would: plain reads of the ledger still work."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (index,)
        ).fetchone()
    with open(path, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes([0xA5]) * page_size)


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A fresh tmpfs of ``size`` mounted at ``where``."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        pytest.fail(f"these tests mount a tmpfs and need root: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)


def fill(where: Path) -> None:
    """Write zeros into ``where`` until its disk is full."""
    chunk = bytes(4096)
    with open(where / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError:
            pass

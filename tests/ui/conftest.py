"""Ledgers seeded once per session by real simulated runs, and AppTest runs of the dashboard.

Tests that write (settings, closed-loop rows) get their own copy of the seeded
database, so every test sees the run exactly as the engine left it. A second
ledger holds two runs (seeds 7 and 8), a third the second run alone: what the
dashboard shows of a run of a shared database must be what it shows of that
run alone.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.ui.seed import SECOND_RUN, closed_loop_rows, run_engine, seed_ledger

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "ui" / "app.py"
PAGES = {
    "Live": "app_pages/live.py",
    "Ledger": "app_pages/ledger.py",
    "Greeks": "app_pages/greeks.py",
    "Settings": "app_pages/settings.py",
}

# Calling cached queries outside a Streamlit server logs a warning per call.
logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory) -> Path:
    """A SQLite ledger of a 2-hour simulated run (seed 7), written by the real engine."""
    return seed_ledger(tmp_path_factory.mktemp("seeded"))


@pytest.fixture(scope="session")
def seeded_url(seeded_db: Path) -> str:
    """The seeded ledger, read only: tests that write use ``ledger_url``."""
    return f"sqlite:///{seeded_db}"


def copy_db(db: Path, folder: Path) -> Path:
    """A copy of the SQLite file ``db`` (and its WAL) in ``folder``."""
    for suffix in ("", "-wal", "-shm"):
        src = db.with_name(db.name + suffix)
        if src.exists():
            shutil.copy(src, folder / (db.name + suffix))
    return folder / db.name


@pytest.fixture
def ledger_url(seeded_db: Path, tmp_path: Path) -> str:
    """A private copy of the seeded ledger that a test may write to."""
    return f"sqlite:///{copy_db(seeded_db, tmp_path)}"


@pytest.fixture(scope="session")
def two_runs_url(seeded_db: Path, tmp_path_factory) -> str:
    """The seeded ledger (run 1: seed 7, 2 h) and a second run (run 2 'second': seed 8, 1 h)
    with the closed loop's rows (a regime flip, a breaker trip, a calibration), read only."""
    folder = tmp_path_factory.mktemp("two_runs")
    url = f"sqlite:///{copy_db(seeded_db, folder)}"
    run_engine(url, folder / "run", SECOND_RUN)
    closed_loop_rows(url, "second")
    return url


@pytest.fixture(scope="session")
def second_alone_url(tmp_path_factory) -> str:
    """Run 2 of ``two_runs_url`` alone in a database (there it is run 1), read only."""
    url = f"sqlite:///{seed_ledger(tmp_path_factory.mktemp('second_alone'), SECOND_RUN)}"
    closed_loop_rows(url, "second")
    return url


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture
def app(monkeypatch) -> Callable[..., AppTest]:
    """``app(url, page="Ledger", secrets=..., user=..., query=...)``: the dashboard run on
    ``url`` (``query``: the address's query parameters, e.g. ``{"run": "1"}``)."""

    def run(url: str, page: str = "Live", *, secrets=None, user=None, query=None) -> AppTest:
        monkeypatch.setenv("EDGELOOP_DB_URL", url)
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.query_params.update(query or {})
        # Never the developer's own .streamlit/secrets.toml: a test states every secret.
        at.secrets.update(secrets or {"edgeloop_test": True})
        if user is not None:
            at.user = user
        at.run()
        if page != "Live":
            at.switch_page(PAGES[page]).run()
        return at

    return run

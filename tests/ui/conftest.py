"""A ledger seeded once per session by a real simulated run, and AppTest runs of the dashboard.

Tests that write (settings, closed-loop rows) get their own copy of the seeded
database, so every test sees the run exactly as the engine left it.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.ui.seed import seed_ledger

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


@pytest.fixture
def ledger_url(seeded_db: Path, tmp_path: Path) -> str:
    """A private copy of the seeded ledger that a test may write to."""
    for suffix in ("", "-wal", "-shm"):
        src = seeded_db.with_name(seeded_db.name + suffix)
        if src.exists():
            shutil.copy(src, tmp_path / (seeded_db.name + suffix))
    return f"sqlite:///{tmp_path / seeded_db.name}"


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture
def app(monkeypatch) -> Callable[..., AppTest]:
    """``app(url, page="Ledger", secrets=..., user=...)``: the dashboard run on ``url``."""

    def run(url: str, page: str = "Live", *, secrets=None, user=None) -> AppTest:
        monkeypatch.setenv("EDGELOOP_DB_URL", url)
        at = AppTest.from_file(str(APP), default_timeout=60)
        # Never the developer's own .streamlit/secrets.toml: a test states every secret.
        at.secrets.update(secrets or {"edgeloop_test": True})
        if user is not None:
            at.user = user
        at.run()
        if page != "Live":
            at.switch_page(PAGES[page]).run()
        return at

    return run

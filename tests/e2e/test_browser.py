"""The dashboard served by `streamlit run` on localhost, driven by headless Chromium (Debian's
chromium and chromium-driver): every page loads with no Streamlit exception box, and a screenshot
of each lands in the run's artifact folder ($EDGELOOP_ARTIFACTS, else the test's tmp_path)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.helpers import BIN, ROOT
from tests.ui.seed import seed_ledger

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PAGES = {"live": "", "ledger": "ledger", "greeks": "greeks", "settings": "settings"}
TITLES = {"live": "Live", "ledger": "Ledger", "greeks": "Greeks", "settings": "Settings"}
BUSY = '[data-testid="stSpinner"], [data-testid="stSkeleton"]'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[str]:
    """`streamlit run ui/app.py` on a free localhost port, on a freshly seeded ledger."""
    folder = tmp_path_factory.mktemp("browser")
    db = seed_ledger(folder)
    port = _free_port()
    log = (folder / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            str(BIN / "streamlit"),
            "run",
            "ui/app.py",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
            "--",
            "--db",
            f"sqlite:///{db}",
        ],  # fmt: skip
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _healthy(url):
            assert proc.poll() is None, (folder / "streamlit.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "streamlit did not become healthy in 30 s"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    assert not missing, f"install Debian's chromium and chromium-driver (missing {missing})"
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-dev-shm-usage", "--window-size=1280,2000",
    ):  # fmt: skip
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = os.environ.get("EDGELOOP_ARTIFACTS")
    path = Path(folder) / "ui" if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_loads_in_chromium_without_an_exception(served, browser, artifacts, page):
    browser.get(f"{served}/{PAGES[page]}")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stApp"]'))
    wait.until(
        lambda d: any(h.text.strip() == TITLES[page] for h in d.find_elements(By.TAG_NAME, "h1"))
    )
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, BUSY))
    time.sleep(1.0)  # charts draw after the script has finished
    shot = artifacts / f"{page}.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    errors = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
    assert not errors, f"{page}: {[e.text[:500] for e in errors]}"
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Traceback" not in body

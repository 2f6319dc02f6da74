"""Headless Chromium for browser tests (shared convention): the session-scoped ``browser`` fixture and
``screenshot``. Debian's chromium and chromedriver are used directly (``Service`` with the driver's
path), never Selenium Manager, which would go to the network.

    from tests.browser import browser  # noqa: F401
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "test-artefacts" / "screenshots"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def browser() -> Iterator["object"]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium (a test dependency)")
    from selenium.webdriver.chrome.service import Service
    if not Path(CHROMEDRIVER).exists():
        pytest.fail(f"{CHROMEDRIVER} is missing: apt-get install chromium chromium-driver")
    profile = tempfile.mkdtemp(prefix="mouseion-chromium-")
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, name: str) -> Path:
    """Save what the browser shows as ``test-artefacts/screenshots/{name}.png``; returns the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path

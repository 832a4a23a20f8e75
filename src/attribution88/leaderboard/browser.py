"""Headless Chromium, driven by Selenium: the screenshot command and the browser tests.

Uses the system's Chromium and chromedriver (Debian: ``apt-get install chromium
chromium-driver``; or set ``ATTRIBUTION88_CHROMIUM`` and ``ATTRIBUTION88_CHROMEDRIVER``), never
a downloaded one: with both paths given, Selenium does not look for drivers on the network.
Each browser starts with a fresh profile, and with the background services that would reach
the network (updates, sync, component downloads) off.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from attribution88 import settings
from attribution88.errors import MissingDependencyError
from attribution88.settings import CHROMEDRIVER_ENV, CHROMIUM_ENV

#: Flags of every Chromium this package starts.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
INSTALL_HINT = (f"apt-get install chromium chromium-driver (or set {CHROMIUM_ENV} and "
                f"{CHROMEDRIVER_ENV}), and pip install 'attribution88[test]' for selenium")


def find_chromium() -> tuple[str, str]:
    """(browser, driver) executables, or a `MissingDependencyError` saying how to get them."""
    browser = settings.chromium() or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    driver = settings.chromedriver() or shutil.which("chromedriver")
    missing = [n for n, p in (("chromium", browser), ("chromedriver", driver)) if not p or not Path(p).exists()]
    if importlib.util.find_spec("selenium") is None:
        missing.append("selenium")
    if missing:
        raise MissingDependencyError(f"a headless browser needs {' and '.join(missing)}: {INSTALL_HINT}")
    return str(browser), str(driver)


@contextmanager
def chromium(width: int = 1280, height: int = 900, *, log_network: bool = False) -> Iterator:
    """A headless Chromium (a Selenium ``WebDriver``) with a fresh profile, removed afterwards.
    ``log_network`` keeps the DevTools performance log (every request the page makes)."""
    browser, driver_path = find_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="attribution88-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    if log_network:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(url: str, out: str | os.PathLike, *, width: int = 1280, max_height: int = 6000) -> Path:
    """A PNG of the whole page at ``url`` (up to ``max_height`` pixels tall), written atomically."""
    from attribution88.atomic import write_bytes

    with chromium(width, 900) as driver:
        driver.get(url)
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": min(max(height, 400), max_height), "deviceScaleFactor": 1,
            "mobile": False})
        png = driver.get_screenshot_as_png()
    write_bytes(out, png)
    return Path(out)

"""A headless chromium driven by selenium, for the tests that open `rbm report`'s page from file:// (issue 23).
Under CI a missing browser fails instead of skipping (`.ci/run` installs Debian's chromium and chromedriver)."""
from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def open_browser():
    """A started webdriver (the caller quits it), or a skip (a fail under CI) when none is installed."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    if not (CHROMIUM and DRIVER and webdriver):
        missing = "a chromium browser and chromedriver (apt) and selenium (pip)"
        if os.environ.get("CI"):
            pytest.fail(f"CI: the report's browser tests need {missing}; .ci/run installs them")
        pytest.skip(f"needs {missing}")
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(DRIVER), options=options)

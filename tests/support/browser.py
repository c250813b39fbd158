"""A real headless browser for the tests of web pages: Debian's ``chromium-headless-shell``
(scripts/setup.sh installs it), driven by Playwright. Playwright's own browser builds are never
downloaded: it launches the system's binary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

__all__ = ["CHROMIUM", "browser_page"]

#: Debian's headless Chromium (package chromium-headless-shell).
CHROMIUM = Path("/usr/bin/chromium-headless-shell")


@contextmanager
def browser_page(width: int = 1280, height: int = 900) -> Iterator[Page]:
    """A page of a fresh headless Chromium, ``width`` x ``height`` CSS pixels at scale 1."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/setup.sh (or apt-get install "
            "chromium-headless-shell)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield browser.new_page(
                viewport={"width": width, "height": height}, device_scale_factor=1
            )
        finally:
            browser.close()

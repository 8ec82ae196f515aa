"""Browser tests: Playwright driving Debian's chromium against `live_server`, with axe-core.

Outside CI the tests skip when /usr/bin/chromium is missing; in CI (CI=true) they fail instead,
since `.ci/run` installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from apps.core.loa import LOA2
from tests.conftest import PASSWORD, totp_now

# Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
# around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"chromium not found at {CHROMIUM}; .ci/run installs Debian's chromium")
        pytest.skip(f"chromium not found at {CHROMIUM} (apt-get install chromium); runs in CI")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def loa2_is_enough(settings: Any) -> None:
    """The browser tests log in through the pages with password and TOTP (LoA 2); until they use
    the federated login, LoA 2 opens administration and issuing here (the portal's default is
    LoA 3, settings.PORTAL_LOA_REQUIRED)."""
    settings.PORTAL_LOA_REQUIRED = {purpose: LOA2 for purpose in settings.PORTAL_LOA_REQUIRED}


@pytest.fixture
def page(browser: Browser, live_server: Any) -> Iterator[Page]:
    """A fresh English-speaking browser context on the live server."""
    context = browser.new_context(base_url=live_server.url, locale="en-GB",
                                  extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def assert_accessible(page: Page) -> None:
    """No serious or critical axe-core violation on the current page."""
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not bad, "\n".join(f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in bad)


def screenshot(page: Page, name: str) -> None:
    """Save a full-page screenshot under docs/screenshots/ when SCREENSHOTS=1 (for the docs)."""
    if os.environ.get("SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def staff_login(page: Page, username: str, *, offset_steps: int = 0) -> None:
    """Log in through the pages with password and the TOTP code."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code from your authenticator app").fill(totp_now(offset_steps=offset_steps))
    page.get_by_role("button", name="Log in").click()


def assert_fits_a_phone(page: Page) -> None:
    """At 390 × 844 CSS pixels (a small phone) the page never scrolls sideways, tables scroll in
    their own box, and every part of the header is on screen; then the viewport is restored."""
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        widths = page.evaluate("""() => ({
            page: document.documentElement.scrollWidth, window: window.innerWidth,
            header: Math.max(...[...document.querySelectorAll('.site-header *')]
                             .map(e => e.getBoundingClientRect().right)),
            tables: [...document.querySelectorAll('table')]
                    .filter(t => !t.parentElement.classList.contains('table-scroll')).length,
        })""")
        assert widths["page"] <= widths["window"], widths
        assert widths["header"] <= widths["window"], widths
        assert widths["tables"] == 0, widths
    finally:
        if size:
            page.set_viewport_size(size)

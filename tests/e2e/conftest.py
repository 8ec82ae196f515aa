"""Browser tests: Playwright driving Debian's chromium against `live_server`, with axe-core.

Staff and patients log in as they do in production: through the federated login, here at the
real local test IdP (apps.testidp) served in a thread next to the live server (`test_idp`). One
test still drives the password+TOTP login (LoA 2), which administration and issuing refuse.

Outside CI the tests skip when /usr/bin/chromium is missing; in CI (CI=true) they fail instead,
since `.ci/run` installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import QuietWSGIRequestHandler
from playwright.sync_api import Browser, Page, expect, sync_playwright

from apps.federation.models import IdentityProvider
from apps.testidp.idp import PERSONALITIES, TestIdP
from apps.testidp.web import TestIdPApp
from tests.conftest import PASSWORD, totp_now
from tests.federation.support import sp_metadata, trust

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


@dataclass(frozen=True)
class TestIdPServer:
    """The test IdP served for one test: `url` (http://127.0.0.1:<port>), its personalities
    (`idps`) and their IdentityProvider rows in the portal (`rows`), by personality."""

    __test__ = False

    url: str
    idps: dict[str, TestIdP]
    rows: dict[str, IdentityProvider]


@pytest.fixture
def test_idp(live_server: Any, settings: Any) -> Iterator[TestIdPServer]:
    """The test IdP (both personalities) on a free port of 127.0.0.1, in a thread, for the length
    of the test; the portal (`live_server`) trusts both with their signed metadata checked.

    PORTAL_BASE_URL is the live server's URL before the SP metadata is built, since the SP's
    AssertionConsumerService URL comes from it. The IdP's login page lists demo people from the
    database: live-server tests commit their data, so the IdP's thread sees it (and closes its
    own connections after each request)."""
    settings.PORTAL_BASE_URL = live_server.url
    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietWSGIRequestHandler,
                                allow_reuse_address=False)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    metadata = sp_metadata()
    idps = {name: TestIdP(name, url, settings.TESTIDP_KEY_DIR, sp_metadata=metadata)
            for name in PERSONALITIES}
    server.set_app(TestIdPApp(idps, own_connections=True))
    thread = threading.Thread(target=server.serve_forever, name="test-idp", daemon=True)
    thread.start()
    try:
        yield TestIdPServer(url=url, idps=idps, rows=trust(idps))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


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


def phone_screenshot(page: Page, name: str) -> None:
    """`screenshot` at 390 × 844 CSS pixels (a small phone); then the viewport is restored."""
    if os.environ.get("SCREENSHOTS"):
        size = page.viewport_size
        page.set_viewport_size({"width": 390, "height": 844})
        try:
            screenshot(page, name)
        finally:
            if size:
                page.set_viewport_size(size)


def staff_login(page: Page, username: str, *, offset_steps: int = 0) -> None:
    """Log in through the pages with password and the TOTP code (LoA 2)."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code from your authenticator app").fill(totp_now(offset_steps=offset_steps))
    page.get_by_role("button", name="Log in").click()


def idp_pick(page: Page, test_idp: TestIdPServer, name: str, *, level_2: bool = False,
             shot: str | None = None) -> None:
    """On the test IdP's login page: pick `name` (and "Log in at level 2" with `level_2`) and log
    in; the IdP's page posts the SAML response back to the portal by script. Returns once the
    browser is back in the portal. `shot`: the screenshot name of the IdP's page."""
    expect(page).to_have_url(re.compile("^" + re.escape(test_idp.url) + "/(staff|citizen)/sso"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Log in with a test")
    assert_accessible(page)
    if shot:
        screenshot(page, shot)
    page.get_by_label(name).check()
    if level_2:
        page.get_by_label("Log in at level 2").check()
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: not url.startswith(test_idp.url))


def federated_login(page: Page, test_idp: TestIdPServer, name: str, *,
                    personality: str = "staff", shots: bool = False) -> None:
    """From the start page: "Log in as staff" (or "as patient" for the `citizen` personality),
    the test IdP on the e-ID choice page, then `name` at the IdP; back in the portal. `shots`:
    screenshots of the choice and the IdP's page (login-discovery/testidp-login for staff,
    patient-login for a patient's IdP page)."""
    page.goto("/")
    page.get_by_role("link", name="Log in as staff" if personality == "staff"
                     else "Log in as patient").click()
    expect(page.get_by_role("heading", name="Choose your e-ID")).to_be_visible()
    if shots and personality == "staff":
        assert_accessible(page)
        screenshot(page, "login-discovery")
    page.get_by_role("link", name=f"Test IdP ({personality})").click()
    shot = ("testidp-login" if personality == "staff" else "patient-login") if shots else None
    idp_pick(page, test_idp, name, shot=shot)


def assert_fits_a_phone(page: Page) -> None:
    """At 390 × 844 CSS pixels (a small phone) the page never scrolls sideways, tables scroll in
    their own box, and every part of the header is on screen; a stacked table (`table.stack`) shows
    every cell and link inside the viewport and stays an axe-clean table; then the viewport is
    restored."""
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
        if page.locator("table.stack").count():
            assert_stacked_tables_fit(page)
    finally:
        if size:
            page.set_viewport_size(size)


def assert_stacked_tables_fit(page: Page) -> None:
    """At the current (narrow) viewport: every visible cell, link and button of each
    `table.stack` lies within the viewport, its scroll box has nothing hidden to the right, the
    page is axe-clean, and Chromium's accessibility tree still has the tables' table, row header,
    column header and cell roles (docs/decisions.md, "Wide tables on a phone: stacked rows")."""
    found = page.evaluate("""() => {
        const width = window.innerWidth, out = [];
        for (const table of document.querySelectorAll('table.stack')) {
            const box = table.parentElement;
            if (box.scrollWidth > box.clientWidth) out.push('scroll box ' + box.scrollWidth);
            for (const e of table.querySelectorAll('tbody th, tbody td, tbody a, tbody button')) {
                if (e.closest('.visually-hidden')) continue;
                const r = e.getBoundingClientRect();
                if (r.width && (r.left < 0 || r.right > width + 0.5))
                    out.push(e.tagName + ' ' + e.textContent.trim().slice(0, 40) + ' ' + r.right);
            }
        }
        return out;
    }""")
    assert not found, found
    assert_accessible(page)
    tree = page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")
    roles = {node.get("role", {}).get("value") for node in tree["nodes"]}
    assert {"table", "row", "columnheader", "rowheader", "cell"} <= roles, roles

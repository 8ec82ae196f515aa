"""The federated login in the browser, beyond the journeys: without JavaScript the test IdP's
visible button completes the login, and logging out ends the IdP's session too (single logout)
before the start page."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import TestIdPServer, assert_accessible, federated_login, idp_pick


def test_login_without_javascript_uses_the_visible_button(browser: Browser, live_server: Any,
                                                          test_idp: TestIdPServer, tree,
                                                          hospital_admin) -> None:
    """The IdP's answer is a form POST to the portal (SAML 2.0 bindings §3.5); a small script
    submits it, and without JavaScript its button does."""
    context = browser.new_context(base_url=live_server.url, locale="en-GB",
                                  java_script_enabled=False,
                                  extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto("/")
        page.get_by_role("link", name="Log in as staff").click()
        page.get_by_role("link", name="Test IdP (staff)").click()
        page.get_by_label("Astrid Admin").check()
        page.get_by_role("button", name="Log in", exact=True).click()
        # Still at the IdP: the page waits for the button.
        expect(page.get_by_role("heading", name="Back to the portal")).to_be_visible()
        assert page.url.startswith(test_idp.url)
        page.get_by_role("button", name="Continue to the portal").click()
        expect(page.get_by_text("Logged in as Astrid Admin")).to_be_visible()
        assert page.url.startswith(live_server.url)
    finally:
        context.close()


def test_logout_ends_the_idp_session_and_returns_to_the_start(page: Page, live_server: Any,
                                                               test_idp: TestIdPServer, tree,
                                                               hospital_admin) -> None:
    """Log out: the portal's session ends, the browser visits the IdP's single logout service
    with a signed LogoutRequest and comes back with its LogoutResponse (SAML 2.0 profiles §4.4)
    to the start page."""
    federated_login(page, test_idp, "Astrid Admin")
    expect(page.get_by_text("Logged in as Astrid Admin")).to_be_visible()
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are logged out, also at your e-ID provider.")).to_be_visible()
    expect(page.get_by_role("link", name="Log in as staff")).to_be_visible()
    assert page.url == live_server.url + "/"
    assert any(url.startswith(f"{test_idp.url}/staff/slo?SAMLRequest=") for url in visited), visited
    assert any("/saml/ls/?SAMLResponse=" in url for url in visited), visited
    assert_accessible(page)

    # The session is gone: administration asks for a login again.
    page.goto("/administration/")
    expect(page).to_have_url(re.compile(r"/login/\?next=%2Fadministration%2F$"))


def test_a_login_at_level_2_at_the_idp_is_not_enough_for_administration(
        page: Page, test_idp: TestIdPServer, tree, hospital_admin) -> None:
    """The IdP asserts LoA 2 ("Log in at level 2"): the login stands, but administration
    explains it needs level 3 and offers the organisation e-ID."""
    page.goto("/")
    page.get_by_role("link", name="Log in as staff").click()
    page.get_by_role("link", name="Test IdP (staff)").click()
    idp_pick(page, test_idp, "Astrid Admin", level_2=True)
    expect(page.get_by_text("Logged in as Astrid Admin")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Administration").click()
    expect(page.get_by_role("heading", name="A higher level of assurance is needed")).to_be_visible()
    expect(page.get_by_text("You are logged in at level of assurance 2.")).to_be_visible()
    expect(page.get_by_role("link", name="Log in with your organisation's e-ID")).to_be_visible()
    assert_accessible(page)

"""Starting at an e-service: the browser opens an authorization request without a login, logs in
at the portal (through the test IdP, or with password and code) and arrives back at the
e-service's redirect URI with a code and `iss`.

Real chromium enforces CSP Level 3 `form-action` on every redirect of a form submission, so these
tests fail when the end of a login redirects to the e-service (docs/identity-provider.md,
"Continuing to the e-service")."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, totp_now
from tests.e2e.conftest import TestIdPServer, assert_accessible, idp_pick
from tests.federation.oidc_support import REDIRECT_URI, register, s256, use_provider


def authorization_request(client_id: str) -> str:
    return "/oauth2/authorize/?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
        "scope": "openid", "state": "st", "code_challenge": s256("v" * 64),
        "code_challenge_method": "S256"})


def assert_back_at_the_e_service(page: Page, login: Any, issuer: str) -> None:
    """`login()` ends the login; the browser then reaches REDIRECT_URI with a code, the state and
    the issuer (RFC 9207)."""
    with (page.expect_request(lambda request: request.url.startswith(REDIRECT_URI),
                              timeout=15_000) as caught,
          contextlib.suppress(PlaywrightError)):
        login()
    query = parse_qs(urlsplit(caught.value.url).query)
    assert query["code"][0]
    assert query["state"] == ["st"]
    assert query["iss"] == [issuer]


def test_staff_with_one_commission_reaches_the_e_service_through_the_idp(
        page: Page, test_idp: TestIdPServer, tree: Any, nurse: Any, settings: Any,
        live_server: Any) -> None:
    use_provider(settings, live_server.url)
    registered = register(tree["cardio"])
    page.goto(authorization_request(registered.client_id))
    page.get_by_role("link", name="Test IdP (staff)").click()
    assert_back_at_the_e_service(page, lambda: idp_pick(page, test_idp, "Nina Nurse"),
                                 live_server.url)


def test_a_patient_reaches_the_e_service_through_the_idp(
        page: Page, test_idp: TestIdPServer, tree: Any, patient: Any, settings: Any,
        live_server: Any) -> None:
    use_provider(settings, live_server.url)
    registered = register(tree["cardio"])
    page.goto(authorization_request(registered.client_id))
    expect(page.get_by_role("heading", name="Choose your e-ID")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Test IdP (citizen)").click()
    assert_back_at_the_e_service(page, lambda: idp_pick(page, test_idp, "Tolvan Tolvansson"),
                                 live_server.url)


def test_staff_reaches_the_e_service_with_password_and_code(
        page: Page, tree: Any, nurse: Any, settings: Any, live_server: Any) -> None:
    use_provider(settings, live_server.url)
    registered = register(tree["cardio"])
    page.goto(authorization_request(registered.client_id))
    page.get_by_role("link", name="Log in as staff with password and authenticator app").click()
    page.get_by_label("Username").fill(nurse[0].username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code from your authenticator app").fill(totp_now())

    def log_in() -> None:
        page.get_by_role("button", name="Log in").click()

    assert_back_at_the_e_service(page, log_in, live_server.url)


def test_the_continue_page_is_accessible_and_works_without_refresh(
        page: Page, tree: Any, nurse: Any, settings: Any, live_server: Any) -> None:
    """The code form's POST ends the login on the continue page, which has a link to the same
    authorization request for browsers that do not follow the refresh (the refresh is answered
    here with 204 No Content, so the browser stays on the page)."""
    use_provider(settings, live_server.url)
    registered = register(tree["cardio"])
    page.goto(authorization_request(registered.client_id))
    page.get_by_role("link", name="Log in as staff with password and authenticator app").click()
    page.get_by_label("Username").fill(nurse[0].username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code from your authenticator app").fill(totp_now())
    page.route("**/oauth2/authorize/**", lambda route: route.fulfill(status=204))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Continuing to the e-service")).to_be_visible()
    assert_accessible(page)
    link = page.get_by_role("link", name="Continue to the e-service")
    assert link.get_attribute("href") == authorization_request(registered.client_id)

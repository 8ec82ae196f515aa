"""E-service clients in the browser: a local administrator registers one and sees its secret once;
the pages and the consent page an e-service sends users to are accessible and fit a phone."""

from __future__ import annotations

import contextlib
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.e2e.conftest import TestIdPServer, assert_accessible, assert_fits_a_phone, federated_login
from tests.federation.oidc_support import REDIRECT_URI, register, s256, use_provider


def test_admin_registers_a_client_and_a_user_sees_the_consent_page(
        page: Page, test_idp: TestIdPServer, tree: Any, hospital_admin: Any, settings: Any,
        live_server: Any) -> None:
    use_provider(settings, live_server.url)
    federated_login(page, test_idp, "Astrid Admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="E-services").click()
    page.get_by_role("link", name="Register an e-service client").click()
    assert_accessible(page)
    assert_fits_a_phone(page)
    page.get_by_label("Organisation").select_option(label="— Cardiology (SE2321000016-0101)")
    page.get_by_label("Name of the e-service").fill("Journal e-service")
    page.get_by_label("Contact person").fill("Ella Example")
    page.get_by_label("Contact e-mail").fill("ella@example.invalid")
    page.get_by_label("Authorization code with PKCE (users log in)").check()
    page.get_by_label(re.compile("^Redirect URIs")).fill("https://journal.example/callback#top")
    page.get_by_label("openid").check()
    # A long claim name wraps on a phone's width (the client's page lists it).
    page.get_by_label("http://sambi.se/attributes/1/healthCareProviderHsaId").check()
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot have a fragment")
    assert_accessible(page)
    page.get_by_label(re.compile("^Redirect URIs")).fill("https://journal.example/callback")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", name="The client was registered")).to_be_visible()
    expect(page.get_by_text("cannot show it again")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Go to the client").click()
    expect(page.get_by_text("waiting for approval")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)

    other = register(tree["cardio"], first_party=False)
    page.goto("/oauth2/authorize/?" + urlencode({
        "response_type": "code", "client_id": other.client_id, "redirect_uri": REDIRECT_URI,
        "scope": "openid", "state": "st", "code_challenge": s256("v" * 64),
        "code_challenge_method": "S256"}))
    expect(page.get_by_role("heading", name="Log in to Journal e-service?")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)


def test_a_user_sees_what_an_e_service_receives_and_revokes_it(
        page: Page, test_idp: TestIdPServer, tree: Any, hospital_admin: Any, settings: Any,
        live_server: Any) -> None:
    use_provider(settings, live_server.url)
    registered = register(tree["cardio"], claims=("sub", "name"))
    federated_login(page, test_idp, "Astrid Admin")
    # The e-service's callback is not served here: the browser stops at it with the code.
    verifier = "v" * 64
    address = "/oauth2/authorize/?" + urlencode({
        "response_type": "code", "client_id": registered.client_id, "redirect_uri": REDIRECT_URI,
        "scope": "openid profile", "state": "st", "code_challenge": s256(verifier),
        "code_challenge_method": "S256"})
    with (page.expect_request(lambda request: request.url.startswith(REDIRECT_URI)) as caught,
          contextlib.suppress(PlaywrightError)):
        page.goto(address)
    code = parse_qs(urlsplit(caught.value.url).query)["code"][0]
    tokens = requests.post(f"{live_server.url}/oauth2/token/", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier}, auth=(registered.client_id, registered.secret), timeout=30)
    assert tokens.status_code == 200

    page.goto("/")
    page.get_by_role("link", name="My e-services").click()
    table = page.get_by_role("table", name="E-services that use your login")
    expect(table.get_by_role("rowheader", name="Journal e-service")).to_be_visible()
    expect(table).to_contain_text("your name")
    assert_accessible(page)
    assert_fits_a_phone(page)
    page.get_by_role("button", name="Revoke Journal e-service").click()
    expect(page.get_by_role("status")).to_contain_text("can no longer use your login")
    expect(page.get_by_text("No e-service uses your login.")).to_be_visible()
    assert_accessible(page)

"""Passkeys in a real browser: chromium's virtual authenticator (Chrome DevTools Protocol
`WebAuthn` domain) makes a passkey on "My passkeys" after a password login, and the login page's
"Log in with a passkey" logs in with it (W3C Web Authentication Level 2, through
static/js/passkeys.js and py_webauthn)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from apps.authn.models import Passkey
from tests.e2e.conftest import assert_accessible, assert_fits_a_phone, screenshot, staff_login


def virtual_authenticator(page: Page) -> Any:
    """A platform authenticator with resident keys and user verification that always verifies
    (as a fingerprint would), added to `page` through CDP."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True}})
    return cdp


def test_staff_registers_a_passkey_and_logs_in_with_it(page: Page, hospital_admin: Any,
                                                       live_server: Any, settings: Any) -> None:
    settings.PORTAL_WEBAUTHN_RP_ID = urlsplit(live_server.url).hostname
    settings.PORTAL_WEBAUTHN_ORIGIN = live_server.url
    virtual_authenticator(page)
    staff_login(page, hospital_admin.username)
    page.get_by_role("link", name="My passkeys").click()
    expect(page.get_by_role("heading", name="My passkeys", level=1)).to_be_visible()
    expect(page.get_by_text("You have no passkeys yet.")).to_be_visible()
    page.get_by_label("Name (for example “Work laptop”)").fill("Test laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("The passkey Test laptop is added.")).to_be_visible()
    expect(page.get_by_role("rowheader", name="Test laptop")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "passkeys")
    passkey = Passkey.objects.get(user=hospital_admin)
    assert passkey.last_used_at is None

    page.get_by_role("button", name="Log out").click()
    page.goto("/login/")
    page.get_by_role("button", name="Log in with a passkey").click()
    expect(page.get_by_text("Logged in as Astrid Admin")).to_be_visible()
    passkey.refresh_from_db()
    assert passkey.last_used_at is not None and passkey.sign_count >= 1
    page.get_by_role("link", name="My passkeys").click()
    expect(page.get_by_role("row", name="Test laptop")).not_to_contain_text("never")

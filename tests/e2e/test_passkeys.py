"""Passkeys in a real browser: chromium's virtual authenticator (Chrome DevTools Protocol
`WebAuthn` domain) makes a passkey on "My passkeys" after a password login, and the login page's
"Log in with a passkey" logs in with it; after a password, "Use a passkey" is the second factor,
and "Confirm with a passkey" a step-up (W3C Web Authentication Level 2, through
static/js/passkeys.js and py_webauthn)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from apps.audit.models import AuditEvent
from apps.authn.models import Passkey
from tests.conftest import PASSWORD
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
    # The same authenticator again: the browser refuses (excludeCredentials) and the page says
    # why in its own words, not the browser's.
    page.get_by_label("Name (for example “Work laptop”)").fill("Again")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("alert")).to_have_text(
        "This device already holds a passkey for your account: use that one, or remove it "
        "here first.")
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


def test_password_then_passkey_and_a_step_up_with_it(page: Page, hospital_admin: Any,
                                                     live_server: Any, settings: Any) -> None:
    settings.PORTAL_WEBAUTHN_RP_ID = urlsplit(live_server.url).hostname
    settings.PORTAL_WEBAUTHN_ORIGIN = live_server.url
    virtual_authenticator(page)
    staff_login(page, hospital_admin.username)
    page.goto("/my/passkeys/")
    page.get_by_label("Name (for example “Work laptop”)").fill("Test laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("The passkey Test laptop is added.")).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    # The password, then the passkey instead of the authenticator app's code.
    page.goto("/login/")
    page.get_by_label("Username").fill(hospital_admin.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Confirm your login", level=1)).to_be_visible()
    expect(page.get_by_label("Code from your authenticator app")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "passkey-second-factor")
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_text("Logged in as Astrid Admin")).to_be_visible()
    assert AuditEvent.objects.filter(action="login.succeeded", actor_id=hospital_admin.pk,
                                     changes__methods=[None, ["pwd", "hwk", "user"]]).exists()

    # A step-up with the same passkey comes back to the page that asked for it.
    page.goto("/login/step-up/?purpose=passkey_remove&next=/my/passkeys/")
    expect(page.get_by_role("heading", name="Confirm it is you", level=1)).to_be_visible()
    assert_accessible(page)
    screenshot(page, "passkey-step-up")
    page.get_by_role("button", name="Confirm with a passkey").click()
    expect(page.get_by_role("heading", name="My passkeys", level=1)).to_be_visible()
    event = AuditEvent.objects.get(action="step_up.succeeded", actor_id=hospital_admin.pk)
    assert event.changes["method"] == [None, "passkey"]
    page.get_by_role("button", name="Remove Test laptop").click()
    expect(page.get_by_text("The passkey Test laptop is removed.")).to_be_visible()
    assert not Passkey.objects.filter(user=hospital_admin).exists()

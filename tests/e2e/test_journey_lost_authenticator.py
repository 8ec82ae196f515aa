"""Journey: a nurse lost her phone. An issuer logs in with the organisation's e-ID, finds her,
confirms it is him, records her identity document and removes her authenticator app; at her next
login she sets up a new one (docs/journey-my-account.md)."""

from __future__ import annotations

from base64 import b32decode
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, totp_now
from tests.e2e.conftest import (
    TestIdPServer,
    assert_accessible,
    assert_fits_a_phone,
    federated_login,
    idp_pick,
    screenshot,
)


def test_issuer_removes_a_lost_authenticator_and_the_nurse_enrols_a_new_one(
        page: Page, live_server, test_idp: TestIdPServer, issuer, nurse, otp_clock) -> None:
    user, _ = nurse
    federated_login(page, test_idp, "Ivar Issuer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Issue e-IDs").click()
    page.get_by_label("Personal identity number or HSA-id").fill(user.person.person_number)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Nina Nurse").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    page.get_by_role("link", name="Confirm with your organisation's e-ID").click()
    page.get_by_role("link", name="Test IdP (staff)").click()
    idp_pick(page, test_idp, "Ivar Issuer")
    expect(page.get_by_role("heading", name="Lost authenticator or password")).to_be_visible()

    # The document is required: every missing piece is named at once.
    page.locator("#id_recovery-action_0").check()
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    page.locator("#id_recovery-document_type_0").check()
    page.locator("#id_recovery-document_last_four").fill("4711")
    page.locator("#id_recovery-document_expires_on").fill(
        (timezone.localdate() + timedelta(days=365)).isoformat())
    screenshot(page, "lost-authenticator-issuer")
    page.get_by_role("button", name="Confirm").click()
    # The answer says what was done; it is no prompt to confirm again.
    expect(page.get_by_role("heading", name="Authenticator app removed")).to_be_visible()
    expect(page.get_by_text("The authenticator app of Nina Nurse is removed")).to_be_visible()
    expect(page.get_by_role("link", name="Find another staff member")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "lost-authenticator-done")
    page.get_by_role("button", name="Log out").click()

    # Nina: password, then the new key instead of the code of the lost app.
    page.goto("/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "lost-authenticator-enrol")
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    new_key = b32decode(secret + "=" * (-len(secret) % 8)).hex()
    page.get_by_label("Code from your authenticator app").fill(totp_now(new_key))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Logged in as Nina Nurse")).to_be_visible()

"""Journey: a staff member changes their password and replaces their authenticator app on My
account, then logs in with the new ones (docs/journey-my-account.md)."""

from __future__ import annotations

from base64 import b32decode

from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, totp_now
from tests.e2e.conftest import assert_accessible, assert_fits_a_phone, screenshot, staff_login

NEW_PASSWORD = "kanelbulle med kardemumma"


def test_staff_changes_password_and_authenticator(page: Page, hospital_admin, otp_clock) -> None:
    staff_login(page, hospital_admin.username)
    page.get_by_role("link", name="My account").click()
    expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "my-account")

    # The password: every error at once, nothing typed into a password field comes back.
    page.get_by_role("link", name="Change password").click()
    page.get_by_label("Current password").fill(PASSWORD)
    page.locator("#id_new_password").fill("kort")
    page.get_by_label("New password again").fill("kortare")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page.get_by_text("The two new passwords differ.").first).to_be_visible()
    expect(page.get_by_label("Current password")).to_have_value("")
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "my-account-password")
    otp_clock.now += 30
    page.get_by_label("Current password").fill(PASSWORD)
    page.locator("#id_new_password").fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(totp_now())
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password is changed.")).to_be_visible()

    # The authenticator: a new key, confirmed with its own code and the current app's.
    page.get_by_role("link", name="Replace authenticator app").click()
    page.get_by_role("button", name="Get a new key").click()
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    new_key = b32decode(secret + "=" * (-len(secret) % 8)).hex()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "my-account-authenticator")
    otp_clock.now += 30
    page.get_by_label("Code from the new authenticator").fill(totp_now(new_key))
    page.get_by_label("Code from your current authenticator").fill(totp_now())
    page.get_by_role("button", name="Use the new authenticator").click()
    expect(page.get_by_text("Your new authenticator is in use")).to_be_visible()

    # Log out, then in with the new password and the new app.
    page.get_by_role("button", name="Log out").click()
    page.goto("/login/")
    page.get_by_label("Username").fill(hospital_admin.username)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    otp_clock.now += 30
    page.get_by_label("Code from your authenticator app").fill(totp_now(new_key))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Logged in as Astrid Admin")).to_be_visible()

"""Staff login with password and second factor (LoA 2), which self-issuance refuses; language
switch; accessibility of the start. The federated login is in test_federated_login.py and the
journeys."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import assert_accessible, assert_fits_a_phone, screenshot, staff_login


def test_staff_logs_in_with_password_and_second_factor(page: Page, hospital_admin) -> None:
    """The start page, the e-ID choice's link to the password login, a wrong password refused
    next to the field, then the password and the authenticator app's code."""
    page.goto("/")
    assert_accessible(page)
    page.get_by_role("link", name="Log in as staff").click()
    page.get_by_role("link", name="Log in as staff with password and authenticator app").click()
    page.get_by_label("Username").fill(hospital_admin.username)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Wrong username or password.")).to_be_visible()
    assert_accessible(page)

    staff_login(page, hospital_admin.username)
    expect(page.get_by_text("Logged in as Astrid Admin")).to_be_visible()
    assert_accessible(page)


def test_password_login_is_refused_self_issuance(page: Page, nurse) -> None:
    """A mobile e-ID is issued on the strength of the login (inherited identification), which
    must be LoA 3 (settings.PORTAL_LOA_REQUIRED["self_issuance"]): after password+TOTP (LoA 2)
    the step-up page explains that and offers only the organisation's e-ID, no code field."""
    user, _ = nurse
    staff_login(page, user.username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My e-IDs").click()
    page.get_by_role("button", name="Get a new mobile e-ID").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    expect(page.get_by_text("This step needs a fresh login at level of assurance 3.")).to_be_visible()
    expect(page.get_by_text("Your login is at level 2.")).to_be_visible()
    expect(page.get_by_role("link", name="Confirm with your organisation's e-ID")).to_be_visible()
    expect(page.get_by_label("Code from your authenticator app")).to_have_count(0)
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "step-up-level-2")


def test_language_switch_to_swedish(page: Page, db) -> None:
    page.goto("/")
    page.get_by_role("button", name="Svenska").click()
    expect(page.locator("html")).to_have_attribute("lang", "sv")

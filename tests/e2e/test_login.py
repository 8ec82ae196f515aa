"""Staff login with password and second factor; language switch; accessibility of the start."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import assert_accessible, staff_login


def test_staff_logs_in_with_second_factor(page: Page, hospital_admin) -> None:
    page.goto("/")
    assert_accessible(page)
    staff_login(page, hospital_admin.username)
    expect(page.get_by_text("Logged in as Astrid Admin")).to_be_visible()
    assert_accessible(page)


def test_wrong_code_is_refused_next_to_the_field(page: Page, hospital_admin) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(hospital_admin.username)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Wrong username or password.")).to_be_visible()
    assert_accessible(page)


def test_language_switch_to_swedish(page: Page, db) -> None:
    page.goto("/")
    page.get_by_role("button", name="Svenska").click()
    expect(page.locator("html")).to_have_attribute("lang", "sv")

"""Staff login with password and second factor; language switch; accessibility of the start."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.commissions import services as commissions
from apps.core.actors import SYSTEM
from tests.e2e.conftest import assert_accessible, assert_fits_a_phone, staff_login


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


def test_staff_with_two_commissions_choose_one(page: Page, tree, nurse) -> None:
    """The choice of commission: radio buttons in a fieldset, then the header names the choice and
    links to switch it."""
    user, employee = nurse
    commissions.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=tree["ortho"], purpose="Vård och behandling",
        rights=["Läsa;alla;VE"], valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    staff_login(page, user.username)
    expect(page.get_by_role("heading", name="Choose commission")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    page.get_by_role("radio", name="Care and treatment, Orthopaedics").check()
    page.get_by_role("button", name="Act under this commission").click()
    expect(page.get_by_text("Commission: Care and treatment, Orthopaedics")).to_be_visible()
    page.get_by_role("link", name="Switch commission").click()
    expect(page.get_by_role("heading", name="Choose commission")).to_be_visible()

"""A local administrator registers a new staff member (docs/journey-joiner.md), in the browser:
one form (every error at once), what will happen and one confirmation, the person's page with the
invitation on its way; then the person opens the e-mailed link and chooses a password."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from apps.outbox.delivery import deliver_pending
from tests.conftest import invitation_path
from tests.e2e.conftest import (
    TestIdPServer,
    assert_accessible,
    assert_fits_a_phone,
    federated_login,
    screenshot,
)


def test_admin_registers_a_joiner_who_chooses_a_password(
        page: Page, live_server: Any, test_idp: TestIdPServer, tree: Any,
        hospital_admin: Any) -> None:
    federated_login(page, test_idp, "Astrid Admin")
    page.goto("/administration/")
    page.get_by_role("link", name="Register a new staff member").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register a new staff member")
    page.get_by_label("Personal identity number or coordination number").fill("750302-2382")
    page.get_by_label("Given name").fill("Åsa")
    page.get_by_label("Family name").fill("Öberg")
    page.get_by_role("button", name="Continue").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The check digit is wrong")
    expect(alert).to_contain_text("Work e-mail: This field is required.")
    expect(page.get_by_label("Family name")).to_have_value("Öberg")
    assert_accessible(page)
    assert_fits_a_phone(page)

    page.get_by_label("Personal identity number or coordination number").fill("７５０３０２-２３８１")
    page.get_by_label("Work e-mail").fill("asa.oberg@example.invalid")
    page.get_by_label("Unit").select_option(label=f"— Cardiology ({tree['cardio'].hsa_id})")
    page.get_by_label("Title (optional)").fill("Sjuksköterska")
    page.get_by_label("E-mail an invitation").check()
    assert_fits_a_phone(page)
    screenshot(page, "admin-joiner")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check and register")
    expect(page.get_by_text("A login account is made with the username asa.oberg")).to_be_visible()
    expect(page.get_by_text("19750302-2381")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "admin-joiner-confirm")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("The person was registered and the invitation is on its way.")
           ).to_be_visible()
    expect(page.get_by_text("asa.oberg: invitation e-mailed to asa.oberg@example.invalid")
           ).to_be_visible()
    assert_accessible(page)

    deliver_pending()
    link = invitation_path()
    page.context.clear_cookies()
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose your password")
    expect(page.locator(".username")).to_have_text("asa.oberg")
    page.locator("#id_password").fill("sommar i skogen")
    page.get_by_label("New password again").fill("sommar i skogen")
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "joiner-invitation")
    page.get_by_role("button", name="Save the password").click()
    expect(page.get_by_text("Your password is saved.")).to_be_visible()
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("The invitation link does not work")
    assert_accessible(page)

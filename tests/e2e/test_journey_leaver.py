"""A local administrator makes a staff member a leaver (docs/journey-leaver.md), in the browser:
the page lists each change first, asks once for a reason, then the person's page shows the
commission ended, the account deactivated and the mobile e-ID revoked."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.conftest import make_staff
from tests.e2e.conftest import (
    TestIdPServer,
    assert_accessible,
    assert_fits_a_phone,
    federated_login,
    screenshot,
)
from tests.issuance.support import issue, redeem_qr


def test_admin_makes_a_leaver(page: Page, live_server: Any, test_idp: TestIdPServer, tree: Any,
                              hospital_admin: Any, issuing_ca: Any) -> None:
    lena, _ = make_staff(tree["ortho"], "Lena", "Leaver", care=True)
    redeem_qr(issue(lena.person), device="Lena phone")

    federated_login(page, test_idp, "Astrid Admin")
    page.goto("/administration/")
    page.get_by_label("Name, username, employee HSA-id or personal identity number").fill("leaver")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Leaver, Lena").click()
    page.get_by_role("link", name="Make a leaver").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Make Lena Leaver a leaver")
    expect(page.get_by_text("The login account lena.leaver is deactivated.")).to_be_visible()
    expect(page.get_by_text("1 active mobile e-ID is revoked")).to_be_visible()
    page.get_by_role("button", name="Make a leaver").click()
    expect(page.get_by_role("alert")).to_contain_text("Reason: This field is required.")
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "admin-leaver")
    page.locator("#id_now-reason").fill("Left the region")
    page.get_by_role("button", name="Make a leaver").click()
    expect(page.get_by_text("The person was made a leaver.")).to_be_visible()
    expect(page.get_by_role("table", name="Mobile e-IDs of this person")).to_contain_text(
        "Revoked")
    assert_accessible(page)


def test_admin_moves_an_employee_hsa_id(page: Page, live_server: Any, test_idp: TestIdPServer,
                                        tree: Any, hospital_admin: Any) -> None:
    maja, employee = make_staff(tree["cardio"], "Maja", "Mover", care=True)

    federated_login(page, test_idp, "Astrid Admin")
    page.goto(f"/administration/people/{maja.person.pk}/")
    page.get_by_role("link", name=f"Move {employee.hsa_id}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Move {employee.hsa_id} to another unit")
    page.get_by_label("New home unit").select_option(label=f"Orthopaedics ({tree['ortho'].hsa_id})")
    page.get_by_label("Vård och behandling, Cardiology").check()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "admin-mover")
    page.get_by_label("Reason").fill("New post at Orthopaedics")
    page.get_by_role("button", name="Move").click()
    expect(page.get_by_text("The employee HSA-id was moved.")).to_be_visible()
    employee.refresh_from_db()
    assert employee.organisation == tree["ortho"]
    assert employee.commissions.get().ended_at is not None

"""A local administrator makes a staff member a leaver (docs/journey-leaver.md), in the browser:
the page lists each change first, asks once for a reason, then the person's page shows the
commission ended, the account deactivated and the mobile e-ID revoked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.commissions import services
from apps.commissions.models import PlannedLeave
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
    page.get_by_label("Name, username, HSA-id, or personal identity or coordination number").fill("leaver")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Leaver, Lena").click()
    page.get_by_role("link", name="Make a leaver").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Make Lena Leaver a leaver, now or after a last working day")
    expect(page.get_by_text("The login account lena.leaver is deactivated.")).to_be_visible()
    expect(page.get_by_text("1 active mobile e-ID is revoked")).to_be_visible()
    page.get_by_role("button", name="End everything now").click()
    expect(page.get_by_role("alert")).to_contain_text("Reason: This field is required.")
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "admin-leaver")
    page.locator("#id_now-reason").fill("Left the region")
    page.get_by_role("button", name="End everything now").click()
    expect(page.get_by_text("The person was made a leaver.")).to_be_visible()
    expect(page.get_by_role("table", name="Mobile e-IDs of this person")).to_contain_text(
        "Revoked")
    assert_accessible(page)
    expect(page.get_by_role("link", name="Make a leaver")).to_have_count(0)  # nothing left


def test_admin_plans_a_leaver_and_cancels_the_plan(page: Page, live_server: Any,
                                                   test_idp: TestIdPServer, tree: Any,
                                                   hospital_admin: Any) -> None:
    lena, _ = make_staff(tree["ortho"], "Lena", "Planned", care=True)
    day = (timezone.localtime(timezone.now(), services.SWEDEN) + timedelta(days=30)).date()

    federated_login(page, test_idp, "Astrid Admin")
    page.goto(f"/administration/people/{lena.person.pk}/")
    page.get_by_role("link", name="Make a leaver").click()
    page.get_by_label("Last working day").fill(day.isoformat())
    page.locator("#id_later-reason").fill("Retires")
    page.get_by_role("button", name="Plan to end everything after the last working day").click()
    expect(page.get_by_text("The last working day was saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Planned leaver")).to_be_visible()
    expect(page.get_by_role("definition").filter(has_text=day.isoformat())).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "admin-planned-leaver")
    page.get_by_role("link", name=f"Cancel planned leaver {day.isoformat()}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Cancel the planned leaver for Lena Planned")
    page.get_by_role("button", name="Cancel planned leaver").click()
    expect(page.get_by_role("alert")).to_contain_text("Reason: This field is required.")
    assert_accessible(page)
    assert_fits_a_phone(page)
    page.get_by_label("Reason").fill("Stays another year")
    page.get_by_role("button", name="Cancel planned leaver").click()
    expect(page.get_by_text("The planned leaver was cancelled.")).to_be_visible()
    expect(page.get_by_role("heading", name="Planned leaver")).to_have_count(0)
    expect(page.get_by_role("table", name="What was done to this person")).to_contain_text(
        "Planned leaver cancelled")
    assert_accessible(page)
    assert not PlannedLeave.objects.filter(person=lena.person).exists()


def test_admin_moves_an_employee_hsa_id(page: Page, live_server: Any, test_idp: TestIdPServer,
                                        tree: Any, hospital_admin: Any) -> None:
    maja, employee = make_staff(tree["cardio"], "Maja", "Mover", care=True)

    federated_login(page, test_idp, "Astrid Admin")
    page.goto(f"/administration/people/{maja.person.pk}/")
    page.get_by_role("link", name=f"Move {employee.hsa_id}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Move {employee.hsa_id} to another unit")
    page.get_by_label("New home unit").select_option(label=f"— Orthopaedics ({tree['ortho'].hsa_id})")
    page.get_by_label("Vård och behandling, Cardiology").check()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "admin-mover")
    page.get_by_label("Reason").fill("New post at Orthopaedics")
    page.get_by_role("button", name="Move").click()
    expect(page.get_by_text("The employee HSA-id was moved.")).to_be_visible()
    expect(page.get_by_text(f"Home unit: Orthopaedics ({tree['ortho'].hsa_id})")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    employee.refresh_from_db()
    assert employee.organisation == tree["ortho"]
    assert employee.commissions.get().ended_at is not None

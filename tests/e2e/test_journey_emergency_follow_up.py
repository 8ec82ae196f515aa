"""Emergency access follow-up in the browser (docs/journey-emergency-follow-up.md): a nurse's
emergency opening of another care provider's records is listed for the hospital's local
administrator, who opens it, is told a comment is needed, and marks it followed up; it moves to
the followed-up list. The patient sees the read, marked as emergency access with its reason, in
the log extract. Each page is axe-clean and fits a 390 px phone."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.conftest import make_staff
from tests.e2e.conftest import (
    TestIdPServer,
    assert_accessible,
    assert_fits_a_phone,
    federated_login,
    phone_screenshot,
    screenshot,
)
from tests.rules.support import care_commission, decide, open_emergency

REASON = "Unconscious on arrival; the medication list is needed."


def _nurse_opens(tree: Any, patient: Any) -> Any:
    _user, nina = make_staff(tree["cardio"], "Nina", "Nurse")
    commission = care_commission(nina, tree["cardio"], ["Läsa;alla;VE", "Läsa;alla;SJF"])
    decide(commission, patient.person, tree["cardio"], information_type="lak")
    return open_emergency(commission, patient.person, tree["other_unit"], reason=REASON)


def test_admin_follows_up_an_emergency_access(page: Page, test_idp: TestIdPServer, tree: Any,
                                              hospital_admin: Any, patient: Any) -> None:
    _nurse_opens(tree, patient)
    federated_login(page, test_idp, "Astrid Admin")
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Emergency access follow-up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Emergency access follow-up")
    table = page.get_by_role("table", name="Emergency access not yet followed up")
    row = table.get_by_role("row").nth(1)
    for text in ("Nina Nurse", "Cardiology", "Tolvan Tolvansson", "19121212-1212", "Other Clinic",
                 "Read: all information", REASON):
        expect(row).to_contain_text(text)
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "emergency-follow-up-list")
    phone_screenshot(page, "emergency-follow-up-list-phone")

    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Emergency access")
    page.get_by_role("button", name="Mark as followed up").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "What the follow-up found: This field is required.")
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "emergency-follow-up-detail")
    page.get_by_label("What the follow-up found").fill(
        "Checked with the ward manager: the patient came in unconscious. Justified.")
    page.get_by_role("button", name="Mark as followed up").click()
    expect(page.get_by_text("The emergency access was marked as followed up.")).to_be_visible()
    expect(page.get_by_text("Nothing to follow up")).to_be_visible()
    page.get_by_role("link", name="Followed up").click()
    followed = page.get_by_role("table", name="Emergency access followed up")
    expect(followed).to_contain_text("Astrid Admin")
    assert_accessible(page)
    assert_fits_a_phone(page)


def test_patient_sees_the_reads_and_the_emergency_access(page: Page, test_idp: TestIdPServer,
                                                         tree: Any, patient: Any) -> None:
    _nurse_opens(tree, patient)
    federated_login(page, test_idp, "Tolvan Tolvansson", personality="citizen")
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Who read my records").click()
    log = page.get_by_role("table")
    emergency = log.get_by_role("row").filter(has_text="Emergency access")
    expect(emergency).to_contain_text("Nina Nurse")
    expect(emergency).to_contain_text("Cardiology")
    expect(emergency).to_contain_text(f"Reason: {REASON}")
    expect(log.get_by_role("row").filter(has_text="Read: medication")).to_contain_text(
        "Cardiology")
    # Staff are named by name and HSA-id, never by their login username; the patient's own first
    # login with the e-ID reads in plain words.
    assert "nina.nurse" not in page.content() and "username" not in page.content()
    expect(log.get_by_role("row").filter(
        has_text="First login with this e-ID (linked to the account)")).to_contain_text(
        "Login with e-ID")
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "patient-log-reads")
    phone_screenshot(page, "patient-log-phone")

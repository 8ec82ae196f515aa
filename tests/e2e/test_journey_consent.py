"""Journey 3 in the browser: a patient logs in with a citizen e-ID at the test IdP (the first
login registers their patient account), gives and withdraws consent and reads the log extract; a
nurse, logged in with the organisation's e-ID, registers emergency access."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from apps.core.actors import SYSTEM
from apps.identities import services as identities
from apps.identities.models import Person, User
from tests.e2e.conftest import (
    TestIdPServer,
    assert_accessible,
    assert_fits_a_phone,
    federated_login,
    screenshot,
)


@pytest.fixture
def tolvan(db: Any) -> Person:
    """Tolvan Tolvansson, the test patient of Swedish e-health: registered as a person (a nurse
    may find him), with no login account yet."""
    return identities.person_create(actor=SYSTEM, given_name="Tolvan", family_name="Tolvansson",
                                    person_number="19121212-1212")


def test_patient_gives_and_withdraws_consent(page: Page, test_idp: TestIdPServer, tree, tolvan,
                                             nurse) -> None:
    assert not User.objects.filter(person=tolvan).exists()
    federated_login(page, test_idp, "Tolvan Tolvansson", personality="citizen", shots=True)
    expect(page.get_by_text("Logged in as Tolvan Tolvansson")).to_be_visible()
    assert User.objects.filter(person=tolvan, kind=User.Kind.PATIENT).exists()  # registered
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My consents").click()
    expect(page.get_by_role("heading", name="My consents")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Care unit:").select_option(label="Cardiology")
    page.get_by_role("button", name="Give consent").click()
    expect(page.get_by_text("Cardiology").first).to_be_visible()
    active = page.get_by_role("table", name="Active and upcoming consents")
    expect(active.get_by_role("cell", name="Active", exact=True)).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "patient-consents")

    active.get_by_role("link", name="Withdraw consent for Cardiology").click()
    assert_accessible(page)
    page.get_by_role("button", name="Withdraw consent").click()
    expect(page.get_by_role("table", name="Withdrawn or removed consents")
           .get_by_text("Cardiology")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Who read my records").click()
    expect(page.get_by_role("heading", name="Who read my records")).to_be_visible()
    expect(page.get_by_text("Consent withdrawn").first).to_be_visible()
    assert_accessible(page)
    screenshot(page, "patient-log")


def test_nurse_registers_emergency_access(page: Page, test_idp: TestIdPServer, tree, tolvan,
                                          nurse) -> None:
    federated_login(page, test_idp, "Nina Nurse")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Register consent").click()
    expect(page.get_by_role("heading", name="Register consent or emergency access")).to_be_visible()
    # One care commission: chosen at login, shown in the header; the page acts at its unit.
    expect(page.get_by_text("Commission: Care and treatment, Cardiology")).to_be_visible()
    page.get_by_label("Patient's personal identity number or coordination number").fill("191212121212")
    page.get_by_role("button", name="Find patient").click()
    assert_accessible(page)
    page.get_by_label("Reason for emergency access").fill("Unconscious on arrival, needs medication list")
    page.get_by_role("button", name="Register emergency access").click()
    expect(page.get_by_text("Emergency access has been registered.")).to_be_visible()
    expect(page.get_by_role("row", name="Tolvan Tolvansson Emergency access")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "care-emergency")

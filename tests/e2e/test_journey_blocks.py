"""Blocks in the browser: a nurse at Cardiology, logged in with the organisation's e-ID, finds the
patient, registers an inner block of Orthopaedics' information, lifts it temporarily for
Cardiology with the patient's consent, and then lifts it for good; staff at another care provider
see Region Demo's outer block and lift it temporarily for their unit; each page
axe-clean and usable at 390 px."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.blocks import services as blocks
from apps.blocks.models import Block, TemporaryRevoke
from apps.commissions import services as commissions
from apps.core.actors import SYSTEM
from apps.identities import services as identities
from apps.identities.models import Person
from tests.conftest import make_staff
from tests.e2e.conftest import (
    TestIdPServer,
    assert_accessible,
    assert_fits_a_phone,
    federated_login,
    phone_screenshot,
    screenshot,
)


@pytest.fixture
def tolvan(db: Any) -> Person:
    return identities.person_create(actor=SYSTEM, given_name="Tolvan", family_name="Tolvansson",
                                    person_number="19121212-1212")


def check(page: Page) -> None:
    assert_accessible(page)
    assert_fits_a_phone(page)


def test_nurse_registers_lifts_temporarily_and_lifts_a_block(page: Page, test_idp: TestIdPServer,
                                                             tree, tolvan, nurse) -> None:
    federated_login(page, test_idp, "Nina Nurse")
    page.goto("/")
    start = page.get_by_role("main")
    expect(start.get_by_role("link", name="Block requests")).to_be_visible()
    start.get_by_role("link", name="Blocks", exact=True).click()
    expect(page.get_by_role("heading", name="Blocks", exact=True)).to_be_visible()
    page.get_by_label("Patient's personal identity number or coordination number").fill("191212121212")
    page.get_by_role("button", name="Find patient").click()
    expect(page.get_by_role("heading", name="Patient: Tolvan Tolvansson, 19121212-1212")).to_be_visible()
    expect(page.get_by_text("The patient has no blocks at this care provider.")).to_be_visible()
    check(page)

    page.get_by_role("link", name="Register a block").click()
    page.get_by_label("Inner block").check()
    page.get_by_label("Care unit whose information is blocked").select_option(label="Orthopaedics")
    page.get_by_label("Medication (lak)").check()
    screenshot(page, "blocks-register")
    page.get_by_role("button", name="Register the block").click()
    # Without the confirmation the form says what is missing, in words.
    expect(page.get_by_text("Confirm that the patient is present and asks for this block.")
           .first).to_be_visible()
    check(page)
    page.get_by_label("The patient is present and asks for this block").check()
    page.get_by_role("button", name="Register the block").click()
    expect(page.get_by_text("The block has been registered.")).to_be_visible()
    blocks = page.get_by_role("table", name="The patient's blocks, newest first")
    expect(blocks.get_by_role("row", name="Inner block Orthopaedics")).to_be_visible()
    check(page)

    blocks.get_by_role("link", name="Lift temporarily for this unit – Inner block, Orthopaedics").click()
    expect(page.get_by_role("heading", name="Lift a block temporarily")).to_be_visible()
    page.get_by_label("The patient's consent").check()
    check(page)
    page.get_by_role("button", name="Lift temporarily").click()
    expect(page.get_by_text("The block has been lifted temporarily for Cardiology.")).to_be_visible()
    revokes = page.get_by_role("table", name="Temporary liftings of these blocks")
    expect(revokes.get_by_text("In force")).to_be_visible()
    check(page)
    screenshot(page, "blocks-patient")
    phone_screenshot(page, "blocks-patient-phone")
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    for name in ("Lift temporarily for this unit", "Lift the block", "Remove (wrong registration)"):
        link = blocks.get_by_role("link", name=name)
        link.scroll_into_view_if_needed()
        box = link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (name, box)
    if size:
        page.set_viewport_size(size)
    assert TemporaryRevoke.objects.get().care_unit == tree["cardio"]

    blocks.get_by_role("link", name="Lift the block – Inner block, Orthopaedics").click()
    expect(page.get_by_role("heading", name="Lift a block", exact=True)).to_be_visible()
    expect(page.get_by_text("it cannot be undone")).to_be_visible()
    page.get_by_label("Reason for lifting").fill("The patient no longer wants the block")
    check(page)
    screenshot(page, "blocks-lift")
    page.get_by_role("button", name="Lift the block for good").click()
    expect(page.get_by_text("The block has been lifted.")).to_be_visible()
    expect(blocks.get_by_text("The patient no longer wants the block")).to_be_visible()
    assert Block.objects.get().revoked_at is not None

    page.get_by_role("link", name="All blocks at Region Demo").click()
    expect(page.get_by_role("heading", name="Blocks at Region Demo")).to_be_visible()
    expect(page.get_by_role("row", name="Tolvan Tolvansson, 19121212-1212")).to_be_visible()
    check(page)


def test_staff_at_another_provider_lift_its_block_temporarily(page: Page, test_idp: TestIdPServer,
                                                              tree, tolvan) -> None:
    """Otto Other at Other Clinic (Other Care AB) finds the patient, sees that Region Demo's outer
    block hides information from his unit, and lifts it temporarily for the unit with the
    patient's consent."""
    _, employee = make_staff(tree["other_unit"], "Otto", "Other", totp=False)
    commissions.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=tree["other_unit"],
        purpose="Vård och behandling", rights=["Läsa;alla;VE", "Läsa;alla;SJF"],
        valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    block = blocks.block_register(actor=SYSTEM, commission=None, patient=tolvan,
                                  block_type=Block.Type.OUTER, care_provider=tree["region"],
                                  excluded_types=["upp"])

    federated_login(page, test_idp, "Otto Other")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Blocks").click()
    page.get_by_label("Patient's personal identity number or coordination number").fill("191212121212")
    page.get_by_role("button", name="Find patient").click()
    expect(page.get_by_role("heading", name="Blocked information you cannot see")).to_be_visible()
    hidden = page.get_by_role("table",
                              name="Other care providers' blocks that hide information from your unit")
    expect(hidden.get_by_role("row", name="Region Demo Outer block: all care units")).to_be_visible()
    check(page)

    hidden.get_by_role("link", name="Lift temporarily for this unit – Outer block, Region Demo").click()
    expect(page.get_by_role("heading", name="Lift a block temporarily")).to_be_visible()
    expect(page.get_by_text("Only Region Demo can lift it for good")).to_be_visible()
    page.get_by_label("The patient's consent").check()
    check(page)
    page.get_by_role("button", name="Lift temporarily").click()
    expect(page.get_by_text("The block has been lifted temporarily for Other Clinic.")).to_be_visible()
    expect(hidden.get_by_text("For all staff until")).to_be_visible()
    check(page)
    screenshot(page, "blocks-other-provider")
    revoke = TemporaryRevoke.objects.get()
    assert (revoke.block_id, revoke.care_unit) == (block.pk, tree["other_unit"])

"""Blocks, the patient's side, in the browser: a patient logs in with a citizen e-ID, asks for an
inner block of Cardiology's information; a nurse at Cardiology, logged in with the organisation's
e-ID in another browser, opens the request, confirms she met the patient and registers the block;
the patient then sees the block in force on "My blocks"."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from apps.blocks.models import Block, BlockRequest
from apps.core.actors import SYSTEM
from apps.identities import services as identities
from apps.identities.models import Person
from tests.e2e.conftest import (
    TestIdPServer,
    assert_accessible,
    assert_fits_a_phone,
    federated_login,
    screenshot,
)


@pytest.fixture
def tolvan(db: Any) -> Person:
    """Tolvan Tolvansson, registered as a person, with no login account yet."""
    return identities.person_create(actor=SYSTEM, given_name="Tolvan", family_name="Tolvansson",
                                    person_number="19121212-1212")


def test_patient_asks_for_a_block_and_a_nurse_confirms_it(page: Page, browser: Browser,
                                                          live_server: Any,
                                                          test_idp: TestIdPServer, tree, tolvan,
                                                          nurse) -> None:
    federated_login(page, test_idp, "Tolvan Tolvansson", personality="citizen")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My blocks").click()
    expect(page.get_by_role("heading", name="My blocks", exact=True)).to_be_visible()
    expect(page.get_by_text("You have no blocks.")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Ask for a block").click()
    # Sent without a care unit: the error is shown on the form, in words.
    page.get_by_label("Inner block: hide one care unit's information").check()
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Choose the care unit whose information you want hidden.")
    assert_accessible(page)
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("link", name="Ask for a block").click()
    page.get_by_label("Inner block: hide one care unit's information").check()
    page.get_by_label("Care unit (for an inner block)").select_option(label="Cardiology")
    page.get_by_label("Medication").check()
    page.get_by_label("Message to the staff (optional)").fill("I can come on Tuesday mornings.")
    assert_fits_a_phone(page)
    screenshot(page, "blocks-patient-request")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_text("Your request has been sent.")).to_be_visible()
    requests = page.get_by_role("table", name="Your block requests")
    expect(requests.get_by_role("cell", name="Waiting for staff")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    assert BlockRequest.objects.get().state == BlockRequest.State.PENDING

    # The nurse, in her own browser.
    context = browser.new_context(base_url=live_server.url, locale="en-GB",
                                  extra_http_headers={"Accept-Language": "en"})
    staff = context.new_page()
    staff.set_default_timeout(10_000)
    try:
        federated_login(staff, test_idp, "Nina Nurse")
        staff.get_by_role("navigation", name="Main").get_by_role("link",
                                                                 name="Block requests").click()
        expect(staff.get_by_role("heading", name="Block requests")).to_be_visible()
        assert_accessible(staff)
        assert_fits_a_phone(staff)
        staff.get_by_role("link", name="Open the request of Tolvan Tolvansson").click()
        expect(staff.get_by_text("19121212-1212")).to_be_visible()
        expect(staff.get_by_text("I can come on Tuesday mornings.")).to_be_visible()
        assert_accessible(staff)
        staff.get_by_role("button", name="Confirm and register the block").click()
        expect(staff.get_by_role("alert")).to_contain_text(
            "Confirm that you have met the patient and checked their identity.")
        staff.get_by_label("I have met the patient and checked their identity").check()
        staff.get_by_role("button", name="Confirm and register the block").click()
        expect(staff.get_by_text("The block has been registered.")).to_be_visible()
        expect(staff.get_by_text("No block requests are waiting.")).to_be_visible()
        assert_fits_a_phone(staff)
    finally:
        context.close()

    page.reload()
    expect(requests.get_by_role("cell", name="Confirmed, block registered")).to_be_visible()
    expect(page.get_by_role("heading", name="Cardiology: Inner block")).to_be_visible()
    expect(page.get_by_text("The care unit's information is hidden from the rest of its care "
                            "provider.").first).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "blocks-patient-list")
    block = Block.objects.get()
    assert block.excluded_types == {"lak"}
    assert BlockRequest.objects.get().block == block

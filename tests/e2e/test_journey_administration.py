"""Journey 1 in the browser: an administrator logs in with the organisation's e-ID (LoA 3, which
administration needs) at the test IdP, finds a person, grants and ends a commission, grants
a role, and sees the history; a unit outside the scope is not offered."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.conftest import make_staff
from tests.e2e.conftest import (
    TestIdPServer,
    assert_accessible,
    assert_fits_a_phone,
    federated_login,
    screenshot,
)


def test_admin_grants_and_ends_a_commission(page: Page, test_idp: TestIdPServer, tree,
                                            hospital_admin) -> None:
    make_staff(tree["ortho"], "Olle", "Ortoped")
    make_staff(tree["primary"], "Pia", "Primär")  # outside Demo Hospital: never listed
    federated_login(page, test_idp, "Astrid Admin", shots=True)
    expect(page.get_by_text("Logged in as Astrid Admin")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Administration").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.get_by_label("Name, username, HSA-id, or personal identity or coordination number").fill("ortoped")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Ortoped, Olle")).to_be_visible()
    expect(page.get_by_text("Pia Primär")).to_have_count(0)
    assert_accessible(page)
    screenshot(page, "admin-list")

    page.get_by_role("link", name="Ortoped, Olle").click()
    page.get_by_role("link", name="Grant commission").click()
    assert_accessible(page)
    units = page.get_by_label("Care unit:").locator("option").all_inner_texts()
    assert any("Orthopaedics" in u for u in units)
    assert not any("Primary Care" in u for u in units)

    page.get_by_label("Care unit:").select_option(label=next(u for u in units if "Orthopaedics" in u))
    page.get_by_label("Read (Läsa)").check()
    page.get_by_label("all information (alla)").check()
    page.get_by_label("own care unit (VE)").check()
    page.get_by_label("First day").fill("2030-01-10")
    page.get_by_label("Last day (optional)").fill("2030-01-01")
    page.get_by_role("button", name="Grant commission").click()
    expect(page.get_by_role("alert")).to_contain_text("The last day cannot be before the first day.")
    expect(page.locator("#id_valid_until_error")).to_contain_text(
        "The last day cannot be before the first day.")
    assert_accessible(page)
    screenshot(page, "admin-grant-error")

    page.get_by_label("First day").fill("2026-01-01")
    page.get_by_label("Last day (optional)").fill("")
    page.get_by_role("button", name="Grant commission").click()
    expect(page.get_by_text("The commission was granted.")).to_be_visible()
    expect(page.get_by_role("cell", name="Läsa;alla;VE")).to_be_visible()

    page.get_by_role("link", name="End commission").first.click()
    page.get_by_label("Reason").fill("Moved to another unit")
    page.get_by_role("button", name="End commission").click()
    expect(page.get_by_text("Moved to another unit").first).to_be_visible()
    history = page.locator("#history ~ .table-scroll table")
    expect(history.get_by_text("Commission ended")).to_be_visible()
    expect(history.get_by_text("Commission granted")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "admin-person")

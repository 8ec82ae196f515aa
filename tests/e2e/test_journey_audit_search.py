"""The audit search in the browser: an administrator (federated login, LoA 3) searches the log
of their subtree by person and unit, sees an error kept beside what was typed, and exports the
result as CSV, which is itself logged (docs/journey-audit-search.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.audit.models import AuditEvent
from apps.commissions import services
from tests.conftest import make_staff
from tests.e2e.conftest import (
    TestIdPServer,
    assert_accessible,
    assert_fits_a_phone,
    federated_login,
    screenshot,
)


def test_admin_searches_the_log_and_exports_it(page: Page, test_idp: TestIdPServer, tree,
                                                hospital_admin) -> None:
    _, olle = make_staff(tree["ortho"], "Olle", "Ortoped")
    make_staff(tree["primary"], "Pia", "Primär")  # outside Demo Hospital: never shown
    commission = services.commission_grant(
        actor=hospital_admin, employee=olle, care_unit=tree["ortho"],
        purpose="Vård och behandling", rights=["Läsa;alla;VE"], valid_from=timezone.now(),
        valid_until=timezone.now() + timedelta(days=30))
    services.commission_end(actor=hospital_admin, commission=commission,
                            reason="Moved to another unit")
    federated_login(page, test_idp, "Astrid Admin")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit search").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit search")
    expect(page.get_by_text("Pia Primär")).to_have_count(0)

    page.get_by_label("Person the event is about").fill("19121212-1213")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_contain_text("Person the event is about")
    expect(page.get_by_label("Person the event is about")).to_have_value("19121212-1213")
    assert_accessible(page)

    number = olle.person.person_number.replace("-", "")[2:]  # the 10-digit form
    page.get_by_label("Person the event is about").fill(number)
    unit = page.get_by_label("Unit:", exact=True)
    unit.select_option(label=next(u for u in unit.locator("option").all_inner_texts()
                                  if "Orthopaedics" in u))
    page.get_by_role("button", name="Search").click()
    results = page.locator("#results ~ .table-scroll table")
    expect(results.get_by_text("Commission ended")).to_be_visible()
    expect(results.get_by_text("Commission granted")).to_be_visible()
    expect(page.get_by_text("newest first (Swedish time). There are no older events.")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "audit-search")

    with page.expect_download() as download:
        page.get_by_role("button", name="Export as CSV").click()
    content = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert content.startswith('"Time (Swedish time)"')
    assert "Moved to another unit" in content and "Pia" not in content
    exported = AuditEvent.objects.get(action="audit_log.exported")
    assert exported.actor_id == hospital_admin.pk
    assert exported.changes["rows"] == [None, content.count("\n") - 1]


def test_admin_finds_a_leaver_in_the_log(page: Page, test_idp: TestIdPServer, tree,
                                         hospital_admin) -> None:
    """Found: "Made a leaver" was offered as an action and never matched."""
    lena, _ = make_staff(tree["ortho"], "Lena", "Leaver", care=True)
    services.person_leave(actor=hospital_admin, person=lena.person, reason="Left the region")
    federated_login(page, test_idp, "Astrid Admin")
    page.goto("/administration/audit/")
    page.get_by_label("Action").select_option(label="Made a leaver")
    page.get_by_role("button", name="Search").click()
    results = page.locator("#results ~ .table-scroll table")
    expect(results.get_by_role("row")).to_have_count(2)  # the header and the event
    expect(results).to_contain_text("Lena Leaver")
    expect(results).to_contain_text("Left the region")
    assert_accessible(page)
    assert_fits_a_phone(page)

    page.goto("/administration/audit/?unit=not-a-uuid")
    expect(page.get_by_role("alert")).to_contain_text("Select a valid choice.")
    expect(page.get_by_text("UUID")).to_have_count(0)
    assert_accessible(page)

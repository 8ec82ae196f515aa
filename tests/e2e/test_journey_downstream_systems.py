"""Downstream systems in the browser (docs/provisioning.md, "Administering downstream systems",
"Status page"): the hospital's local administrator registers a system, is told what is wrong
with the form first, sees its status page with a failed change and its error, retries one change,
skips another with a reason and starts a reconciliation, whose progress bar shows. Each page is
axe-clean and fits a 390 px phone."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from apps.provisioning.models import DownstreamSystem, ProvisioningJob, ReconciliationRun
from tests.conftest import make_staff
from tests.e2e.conftest import (
    TestIdPServer,
    assert_accessible,
    assert_fits_a_phone,
    federated_login,
    phone_screenshot,
    screenshot,
)
from tests.provisioning.admin_support import job

ERROR = "400 invalidValue: the attribute userName is required by this very long target message"


def test_admin_registers_a_system_and_handles_its_changes(
        page: Page, test_idp: TestIdPServer, tree: Any, hospital_admin: Any) -> None:
    federated_login(page, test_idp, "Astrid Admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Downstream systems").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Downstream systems")
    page.get_by_role("link", name="Register a downstream system").click()
    page.get_by_label("Owning organisation").select_option(label="Demo Hospital (SE2321000016-0100)")
    page.get_by_label("Name of the system").fill("Journal system")
    page.get_by_label("SCIM base URL").fill("http://scim.example.se/scim/v2")
    page.get_by_label("— Cardiology (SE2321000016-0101)").check()
    page.get_by_label("Commissions and care units").check()
    page.get_by_label("Bearer token", exact=True).check()
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("alert")).to_contain_text("The address must use https")
    assert_accessible(page)
    assert_fits_a_phone(page)
    page.get_by_label("SCIM base URL").fill("https://scim.example.se/scim/v2")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("alert")).to_contain_text("Bearer token: Enter the bearer token.")
    page.locator("#id_token").fill("e2e-token.value")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("The downstream system was registered.")).to_be_visible()
    assert "e2e-token.value" not in page.content()

    system = DownstreamSystem.objects.get()
    user, _ = make_staff(tree["cardio"], "Petra", "Person")
    failed = job(system, user.person, last_error=ERROR)
    job(system, user.person, ProvisioningJob.State.PENDING)
    page.reload()
    jobs = page.get_by_role("table", name="Changes: Failed")
    expect(jobs).to_contain_text("Petra Person")
    expect(jobs).to_contain_text(ERROR)
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "downstream-system-status")
    phone_screenshot(page, "downstream-system-status-phone")

    page.get_by_role("button", name="Retry now").click()
    expect(page.get_by_text("The change will be pushed again in a moment.")).to_be_visible()
    assert ProvisioningJob.objects.get(pk=failed.pk).state == "pending"
    page.get_by_role("link", name="Pending").first.click()
    page.get_by_label("Reason for skipping").first.fill("Test person, not in the target")
    page.get_by_role("button", name="Skip").first.click()
    expect(page.get_by_text("The change was skipped: it will not be pushed.")).to_be_visible()

    page.get_by_role("button", name="Start reconciliation").click()
    expect(page.get_by_text("The reconciliation has started.")).to_be_visible()
    ReconciliationRun.objects.update(total=40, compared=10)
    page.get_by_role("link", name="Refresh", exact=True).click()
    expect(page.locator("progress#reconciliation-progress")).to_have_attribute("value", "10")
    expect(page.get_by_text("10 of 40 (25 %)")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)

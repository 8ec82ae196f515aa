"""Journey 2 in the browser: a nurse with two commissions logs in with the organisation's e-ID at
the test IdP and chooses a commission; she asks for a mobile e-ID and confirms it is her with a
fresh login at level 3 at the IdP (ForceAuthn: the IdP's page appears again); the reference app
activates it, the e-ID appears in "My e-IDs", and revoking it puts it on the CRL."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.commissions import services as commissions
from apps.core.actors import SYSTEM
from tests.e2e.conftest import (
    TestIdPServer,
    assert_accessible,
    assert_fits_a_phone,
    federated_login,
    idp_pick,
    screenshot,
)

APP = [sys.executable, "clients/mobile_app/eid_app.py"]


def app(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*APP, *args], cwd=settings.BASE_DIR, capture_output=True, text=True,
                          timeout=60, check=False)


def test_nurse_activates_and_revokes_a_mobile_eid(page: Page, live_server, test_idp: TestIdPServer,
                                                   tree, nurse, issuing_ca, tmp_path: Path) -> None:
    _, employee = nurse
    commissions.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=tree["ortho"], purpose="Vård och behandling",
        rights=["Läsa;alla;VE"], valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    federated_login(page, test_idp, "Nina Nurse")

    # Two commissions: the portal asks which one she acts under, and the header names it.
    expect(page.get_by_role("heading", name="Choose commission")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "commission-choice")
    page.get_by_role("radio", name="Care and treatment, Orthopaedics").check()
    page.get_by_role("button", name="Act under this commission").click()
    expect(page.get_by_text("Commission: Care and treatment, Orthopaedics")).to_be_visible()
    page.get_by_role("link", name="Switch commission").click()
    expect(page.get_by_role("heading", name="Choose commission")).to_be_visible()
    page.get_by_role("radio", name="Care and treatment, Cardiology").check()
    page.get_by_role("button", name="Act under this commission").click()
    expect(page.get_by_text("Commission: Care and treatment, Cardiology")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My e-IDs").click()
    expect(page.get_by_text("You have no mobile e-ID yet.")).to_be_visible()
    assert_accessible(page)

    # Self-issuance needs a fresh login at level 3: the step-up page sends her to the IdP again.
    page.get_by_role("button", name="Get a new mobile e-ID").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    expect(page.get_by_text("This step needs a fresh login at level of assurance 3.")).to_be_visible()
    expect(page.get_by_text("Your login is at level")).to_have_count(0)  # she is at level 3
    assert_accessible(page)
    page.get_by_role("link", name="Confirm with your organisation's e-ID").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    page.get_by_role("link", name="Test IdP (staff)").click()
    expect(page.get_by_text("http://id.elegnamnden.se/loa/1.0/loa3")).to_be_visible()  # requested
    request = test_idp.idps["staff"].parse_authn_request(
        parse_qs(urlsplit(page.url).query)["SAMLRequest"][0])
    assert request.force_authn  # the IdP must authenticate her anew (SAML 2.0 core §3.4.1)
    idp_pick(page, test_idp, "Nina Nurse")

    expect(page.get_by_role("heading", name="Get a new mobile e-ID")).to_be_visible()
    page.get_by_role("button", name="Create activation code").click()
    expect(page.get_by_role("heading", name="Activation code")).to_be_visible()
    expect(page.get_by_role("img", name="QR code with the activation code")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "eid-code")
    person_number = page.locator("#person-number").inner_text().strip()
    code = page.locator("#short-code").inner_text().strip()

    wallet = tmp_path / "wallet.json"
    activated = app("activate", "--portal", live_server.url, "--wallet", str(wallet),
                    "--person-number", person_number, "--code", code, "--device-name", "Test phone")
    assert activated.returncode == 0, activated.stdout + activated.stderr
    verified = app("verify", "--portal", live_server.url, "--wallet", str(wallet))
    assert verified.returncode == 0 and "valid" in verified.stdout

    again = app("activate", "--portal", live_server.url, "--wallet", str(tmp_path / "w2.json"),
                "--person-number", person_number, "--code", code)
    assert again.returncode == 1 and "already been used" in again.stdout + again.stderr

    page.get_by_role("link", name="Done").click()
    table = page.get_by_role("table", name="Your mobile e-IDs")
    expect(table.get_by_role("rowheader", name="Test phone")).to_be_visible()
    expect(table.get_by_text("Active", exact=True)).to_be_visible()
    assert_accessible(page)
    screenshot(page, "my-eids")

    table.get_by_role("link", name="Revoke").first.click()
    page.get_by_label("Reason for revoking").fill("Phone lost")
    page.get_by_role("button", name="Revoke e-ID").click()
    expect(page.get_by_role("table", name="Your mobile e-IDs").get_by_text("Revoked", exact=True)
           ).to_be_visible()
    revoked = app("verify", "--portal", live_server.url, "--wallet", str(wallet))
    assert revoked.returncode == 2 and "revoked" in revoked.stdout

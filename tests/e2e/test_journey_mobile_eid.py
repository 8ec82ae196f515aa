"""Journey 2 in the browser: a nurse asks for a mobile e-ID, confirms with a fresh code, the
reference app activates it, the e-ID appears in "My e-IDs", and revoking it puts it on the CRL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.conf import settings
from playwright.sync_api import Page, expect

from tests.conftest import totp_now
from tests.e2e.conftest import assert_accessible, screenshot, staff_login

APP = [sys.executable, "clients/mobile_app/eid_app.py"]


def app(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*APP, *args], cwd=settings.BASE_DIR, capture_output=True, text=True,
                          timeout=60, check=False)


def test_nurse_activates_and_revokes_a_mobile_eid(page: Page, live_server, nurse, issuing_ca,
                                                   tmp_path: Path) -> None:
    user, _ = nurse
    staff_login(page, user.username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My e-IDs").click()
    expect(page.get_by_text("You have no mobile e-ID yet.")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("button", name="Get a new mobile e-ID").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    page.get_by_label("Code from your authenticator app").fill(totp_now(offset_steps=1))
    page.get_by_role("button", name="Confirm").click()
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

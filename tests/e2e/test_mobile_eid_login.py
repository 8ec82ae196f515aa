"""Out-of-band login with the mobile e-ID in a real browser: a nurse with an active mobile e-ID
opens the login page, the page shows a QR code and a number, the app approves through the API
with the e-ID's key, and the page goes on by itself (its script polls) with the header naming
her."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from apps.issuance.models import OutOfBandRequest
from tests.concurrency.support import post_json
from tests.e2e.conftest import assert_accessible, assert_fits_a_phone, screenshot
from tests.issuance.oob_support import activate


def test_nurse_logs_in_with_the_mobile_eid_and_the_page_completes_by_itself(
        page: Page, live_server: Any, nurse: Any, issuing_ca: Any, settings: Any) -> None:
    settings.PORTAL_BASE_URL = live_server.url
    user, _employee = nurse
    wallet = activate(user.person)

    page.goto("/login/")
    page.get_by_role("link", name="Log in with your mobile e-ID").click()
    expect(page.get_by_role("heading", name="Log in with your mobile e-ID")).to_be_visible()
    assert_accessible(page)
    assert_fits_a_phone(page)
    page.get_by_role("button", name="Start").click()

    expect(page.get_by_role("heading", name="Approve in the app")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for the mobile e-ID app")).to_be_visible()
    number = page.locator("strong.code").inner_text()
    assert re.fullmatch(r"[0-9]{2}", number)
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "mobile-eid-login")

    reference = re.search(r"EIDAUTH1\.([A-Za-z0-9_-]{32})", page.content())
    assert reference
    req = OutOfBandRequest.objects.get(reference=reference.group(1))
    assert req.number == number
    answer = post_json(live_server.url, f"/api/v1/eid/auth-requests/{req.reference}/approval",
                       {"serial": wallet.serial, "number": number,
                        "signature": wallet.sign_b64(req)})
    assert answer.status == 200

    # Nobody presses Continue: the page's script sees the approval and goes on.
    # The header names the person and the session's level (a mobile e-ID login is LoA 3).
    expect(page.locator(".site-header .who")).to_have_text(
        f"{user.person} (level of assurance 3)", timeout=15_000)
    assert "/login/mobile-eid/" not in page.url
    assert_accessible(page)

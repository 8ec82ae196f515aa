"""The browser side of the out-of-band login with the mobile e-ID: a real wallet key approves
through the API, and the browser that started the request logs in at LoA 3."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from apps.commissions.models import Employee
from apps.core.loa import LOA3
from apps.identities.models import User
from apps.issuance.models import OutOfBandRequest
from tests.issuance.oob_support import activate

pytestmark = pytest.mark.django_db


@pytest.fixture
def nina(nurse: tuple[User, Employee], issuing_ca: Any) -> User:
    return nurse[0]


def _start(client: Client) -> OutOfBandRequest:
    page = client.post("/login/mobile-eid/")
    assert page.status_code == 200
    text = page.content.decode()
    reference = re.search(r"EIDAUTH1\.([A-Za-z0-9_-]{32})", text)
    assert reference and "eidapp://auth?ref=EIDAUTH1." in text and "data:image/svg+xml" in text
    req = OutOfBandRequest.objects.get(reference=reference.group(1))
    assert f">{req.number}</strong>" in text
    return req


def test_round_trip_in_the_browser(nina: User) -> None:
    wallet = activate(nina.person)
    browser = Client()
    assert "Log in with your mobile e-ID" in browser.get("/login/").content.decode()
    req = _start(browser)
    waiting = browser.get("/login/mobile-eid/wait/")
    assert waiting.status_code == 200 and "Not approved yet" in waiting.content.decode()
    approved = Client().post(f"/api/v1/eid/auth-requests/{req.reference}/approval",
                             {"serial": wallet.serial, "number": req.number,
                              "signature": wallet.sign_b64(req)},
                             content_type="application/json")
    assert approved.status_code == 200
    # Another browser (no binding in its session) gets nothing.
    thief = Client()
    thief.cookies = browser.cookies.__class__()
    assert "no login request" in thief.get("/login/mobile-eid/wait/").content.decode()
    done = browser.get("/login/mobile-eid/wait/")
    assert done.status_code == 302
    authn = browser.session["authn"]
    assert authn["loa"] == LOA3 and authn["methods"] == ["mobile_eid"]
    assert authn["eid_serial"] == wallet.serial and authn["idp"] is None
    assert str(browser.session["_auth_user_id"]) == str(nina.pk)
    # The header tells the person how strongly they are logged in.
    assert "(level of assurance 3)" in browser.get(done["Location"], follow=True).content.decode()
    # Single use: the request is gone from the session and consumed.
    again = browser.get("/login/mobile-eid/wait/")
    assert "no login request" in again.content.decode()


def test_denied_in_the_app(nina: User) -> None:
    wallet = activate(nina.person)
    browser = Client()
    req = _start(browser)
    # The QR text alone denies nothing; the app's signed "no" does.
    unsigned = Client().post(f"/api/v1/eid/auth-requests/{req.reference}/denial", {},
                             content_type="application/json")
    assert unsigned.status_code == 400
    assert "Not approved yet" in browser.get("/login/mobile-eid/wait/").content.decode()
    Client().post(f"/api/v1/eid/auth-requests/{req.reference}/denial", wallet.denial_body(req),
                  content_type="application/json")
    page = browser.get("/login/mobile-eid/wait/")
    assert "You said no in the app" in page.content.decode()
    assert "_auth_user_id" not in browser.session


def test_in_swedish(nina: User) -> None:
    browser = Client(HTTP_ACCEPT_LANGUAGE="sv")
    page = browser.get("/login/mobile-eid/", HTTP_ACCEPT_LANGUAGE="sv")
    assert page.status_code == 200 and "mobila e-legitimation" in page.content.decode()


def test_status_endpoint_for_the_waiting_script(nina: User) -> None:
    wallet = activate(nina.person)
    browser = Client()
    assert browser.get("/login/mobile-eid/status/").json() == {"status": "unknown"}
    req = _start(browser)
    page = browser.get("/login/mobile-eid/wait/").content.decode()
    assert "js/mobile-eid-wait.js" in page and 'data-oob-status-url="/login/mobile-eid/status/"' in page
    answer = browser.get("/login/mobile-eid/status/")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    assert "no-store" in answer["Cache-Control"]
    assert answer.json() == {"status": "pending"}
    Client().post(f"/api/v1/eid/auth-requests/{req.reference}/approval",
                  {"serial": wallet.serial, "number": req.number,
                   "signature": wallet.sign_b64(req)}, content_type="application/json")
    # Another browser learns nothing; this one sees approved, and reading does not log in.
    assert Client().get("/login/mobile-eid/status/").json() == {"status": "unknown"}
    assert browser.get("/login/mobile-eid/status/").json() == {"status": "approved"}
    assert "_auth_user_id" not in browser.session
    assert browser.get("/login/mobile-eid/wait/").status_code == 302
    assert browser.get("/login/mobile-eid/status/").json() == {"status": "unknown"}


def test_status_endpoint_reports_denied(nina: User) -> None:
    wallet = activate(nina.person)
    browser = Client()
    req = _start(browser)
    Client().post(f"/api/v1/eid/auth-requests/{req.reference}/denial", wallet.denial_body(req),
                  content_type="application/json")
    assert browser.get("/login/mobile-eid/status/").json() == {"status": "denied"}

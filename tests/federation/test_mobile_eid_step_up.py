"""Step-up with the mobile e-ID: a logged-in staff member confirms it is them by approving a
request in the app; only their own e-ID may approve it, and the proof it leaves issues a new
e-ID (inherited identification)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from apps.commissions.models import Employee
from apps.core.assurance import is_fresh, mint_step_up
from apps.core.loa import LOA3
from apps.identities.models import User
from apps.issuance import services
from apps.issuance.models import ActivationCode, OutOfBandRequest
from tests.conftest import login_session
from tests.issuance.oob_support import Wallet, activate

pytestmark = pytest.mark.django_db

NEW_EID = "/my/eids/new/"


@pytest.fixture
def nina(nurse: tuple[User, Employee], issuing_ca: Any) -> User:
    return nurse[0]


def _approve(wallet: Wallet, req: OutOfBandRequest) -> Any:
    return Client().post(f"/api/v1/eid/auth-requests/{req.reference}/approval",
                         {"serial": wallet.serial, "number": req.number,
                          "signature": wallet.sign_b64(req)}, content_type="application/json")


def _start_step_up(browser: Client) -> OutOfBandRequest:
    page = browser.post("/login/step-up/mobile-eid/", {"next": NEW_EID})
    assert page.status_code == 200
    text = page.content.decode()
    assert "approve with your own mobile e-ID" in text
    assert 'data-oob-status-url="/login/step-up/mobile-eid/status/"' in text
    reference = re.search(r"EIDAUTH1\.([A-Za-z0-9_-]{32})", text)
    assert reference
    return OutOfBandRequest.objects.get(reference=reference.group(1))


def test_step_up_with_the_mobile_eid_issues_a_new_eid(nina: User) -> None:
    wallet = activate(nina.person)
    browser = login_session(Client(), nina, loa="http://id.elegnamnden.se/loa/1.0/loa2",
                            methods=("pwd", "otp"), idp=None)
    gate = browser.get(NEW_EID)
    assert gate.status_code == 302 and "/login/step-up/" in gate["Location"]
    page = browser.get(gate["Location"]).content.decode()
    # Offered first, before the organisation's e-ID.
    assert page.index("Confirm with your mobile e-ID") < page.index(
        "Confirm with your organisation")
    req = _start_step_up(browser)
    assert req.purpose == "step_up" and req.step_up_user_id == nina.pk
    assert browser.get("/login/step-up/mobile-eid/status/").json() == {"status": "pending"}
    assert "Not approved yet" in browser.get("/login/step-up/mobile-eid/wait/").content.decode()
    assert _approve(wallet, req).status_code == 200
    done = browser.get("/login/step-up/mobile-eid/wait/")
    assert done.status_code == 302 and done["Location"] == NEW_EID
    authn = browser.session["authn"]
    assert authn["loa"] == LOA3 and "mobile_eid" in authn["methods"]
    assert authn["step_up"]["method"] == "mobile_eid"
    assert browser.get(NEW_EID).status_code == 200
    issued = browser.post(NEW_EID)
    assert issued.status_code == 200
    assert ActivationCode.objects.filter(person=nina.person).count() == 2  # activate + this one


def test_step_up_not_offered_without_an_active_mobile_eid(nina: User) -> None:
    browser = login_session(Client(), nina)
    page = browser.get(f"/login/step-up/?purpose=self_issuance&next={NEW_EID}").content.decode()
    assert "Confirm with your mobile e-ID" not in page
    refused = browser.post("/login/step-up/mobile-eid/", {"next": NEW_EID})
    assert refused.status_code == 403 and "no mobile e-ID" in refused.content.decode()


def test_another_persons_eid_cannot_approve_a_step_up(nina: User, issuer: User) -> None:
    activate(nina.person)
    other = activate(issuer.person, "Ivar's phone")
    browser = login_session(Client(), nina)
    req = _start_step_up(browser)
    refused = _approve(other, req)
    assert refused.status_code == 403 and refused.json()["code"] == "auth.other_person"
    req.refresh_from_db()
    assert req.status == "pending" and req.user_id is None
    page = browser.get("/login/step-up/mobile-eid/wait/")
    assert page.status_code == 200 and "Not approved yet" in page.content.decode()
    assert browser.session["authn"].get("step_up") is None


def test_another_person_cannot_deny_a_step_up_or_type_wrong_numbers(nina: User,
                                                                   issuer: User) -> None:
    """Someone else's e-ID can neither say no to Nina's step-up nor cancel it with wrong
    numbers: the request waits for Nina's own answer."""
    wallet = activate(nina.person)
    other = activate(issuer.person, "Ivar's phone")
    browser = login_session(Client(), nina)
    req = _start_step_up(browser)
    url = f"/api/v1/eid/auth-requests/{req.reference}"
    denial = Client().post(url + "/denial", other.denial_body(req),
                           content_type="application/json")
    assert denial.status_code == 403 and denial.json()["code"] == "auth.other_person"
    wrong = f"{(int(req.number) + 1) % 100:02d}"
    for _ in range(3):
        answer = Client().post(url + "/approval",
                               {"serial": other.serial, "number": wrong,
                                "signature": other.sign_b64(req, wrong)},
                               content_type="application/json")
        assert answer.status_code == 403 and answer.json()["code"] == "auth.other_person"
    req.refresh_from_db()
    assert req.status == "pending" and req.wrong_numbers == 0
    assert _approve(wallet, req).status_code == 200
    assert browser.get("/login/step-up/mobile-eid/wait/").status_code == 302


def test_a_login_request_does_not_complete_a_step_up_and_vice_versa(nina: User) -> None:
    wallet = activate(nina.person)
    browser = login_session(Client(), nina)
    req = _start_step_up(browser)
    assert _approve(wallet, req).status_code == 200
    # The login pages hold no request for this browser; the step-up is still there to finish.
    assert "no login request" in browser.get("/login/mobile-eid/wait/").content.decode()
    assert browser.get("/login/step-up/mobile-eid/wait/").status_code == 302


def test_issuance_accepts_the_mobile_eid_step_up_proof(nina: User) -> None:
    proof = mint_step_up(nina.pk, "mobile_eid", loa=LOA3)
    assert is_fresh(proof, nina.pk, min_loa=LOA3)
    issued = services.activation_code_issue(actor=nina, person=nina.person, step_up=proof)
    assert issued.code.person_id == nina.person.pk


def test_step_up_pages_in_swedish(nina: User) -> None:
    activate(nina.person)
    browser = login_session(Client(), nina)
    page = browser.get(f"/login/step-up/?purpose=self_issuance&next={NEW_EID}",
                       HTTP_ACCEPT_LANGUAGE="sv")
    assert "Bekräfta med din mobila e-legitimation" in page.content.decode()


@pytest.mark.parametrize("hostile", ["\x00", "//evil.test/x", "https://evil.test/", "x" * 10_000,
                                     "/my/\x00", "\\\\evil.test", "/\uff0f\uff0fevil.test"])
def test_a_hostile_next_never_leaves_the_portal(nina: User, hostile: str) -> None:
    wallet = activate(nina.person)
    browser = login_session(Client(raise_request_exception=False), nina)
    page = browser.post("/login/step-up/mobile-eid/", {"next": hostile})
    assert page.status_code == 200
    req = OutOfBandRequest.objects.get(step_up_user=nina, status="pending")
    assert _approve(wallet, req).status_code == 200
    done = browser.get("/login/step-up/mobile-eid/wait/")
    location = urlsplit(done["Location"])
    assert done.status_code == 302 and done["Location"].startswith("/")
    assert not done["Location"].startswith(("//", "/\\"))
    assert not location.scheme and not location.netloc


def test_the_login_pages_answer_every_method_and_session_without_an_error(nina: User) -> None:
    """No request in the session, other methods, stray query text: a page or 405, never a 500;
    the step-up pages send an anonymous browser to the login."""
    client = Client(raise_request_exception=False)
    assert "no login request" in client.get("/login/mobile-eid/wait/?ref=%00").content.decode()
    assert client.get("/login/mobile-eid/status/?ref=%00").json() == {"status": "unknown"}
    assert client.post("/login/mobile-eid/wait/").status_code == 405
    assert client.put("/login/mobile-eid/").status_code == 405
    assert client.get("/login/step-up/mobile-eid/wait/").status_code == 302
    assert client.post("/login/step-up/mobile-eid/", {"next": "/"}).status_code == 302
    assert not OutOfBandRequest.objects.exists()

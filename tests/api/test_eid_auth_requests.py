"""The out-of-band login API the mobile e-ID app calls: fetch, approve, deny (problem+json)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.commissions.models import Employee
from apps.core.actors import ANONYMOUS
from apps.identities.models import User
from apps.issuance import services
from tests.issuance.oob_support import activate

pytestmark = pytest.mark.django_db


@pytest.fixture
def nina(nurse: tuple[User, Employee], issuing_ca: Any) -> User:
    return nurse[0]


def _url(reference: str, action: str = "") -> str:
    return f"/api/v1/eid/auth-requests/{reference}" + (f"/{action}" if action else "")


def _problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def test_fetch_approve_and_replay(nina: User, settings: Any) -> None:
    wallet = activate(nina.person)
    started = services.mobile_eid_login_start(actor=ANONYMOUS, ip="192.0.2.1")
    req = started.request
    client = Client()
    shown = client.get(_url(req.reference))
    assert shown.status_code == 200
    body = shown.json()
    assert body["reference"] == req.reference and body["nonce"] == req.nonce
    assert body["origin"] == settings.PORTAL_BASE_URL and body["expires_at"].endswith("Z")
    assert "number" not in body and req.number not in body.values()
    approval = {"serial": wallet.serial, "number": req.number, "signature": wallet.sign_b64(req)}
    answered = client.post(_url(req.reference, "approval"), approval,
                           content_type="application/json")
    assert answered.status_code == 200 and answered.json() == {"status": "approved"}
    _problem(client.post(_url(req.reference, "approval"), approval,
                         content_type="application/json"), 409, "auth.not_pending")
    services.mobile_eid_login_complete(actor=ANONYMOUS, reference=req.reference,
                                       binding=started.binding)
    _problem(client.get(_url(req.reference)), 404, "not_found")
    _problem(client.post(_url(req.reference, "approval"), approval,
                         content_type="application/json"), 404, "not_found")


def test_refusals(nina: User) -> None:
    wallet = activate(nina.person)
    req = services.mobile_eid_login_start(actor=ANONYMOUS, ip="192.0.2.1").request
    client = Client()
    good = {"serial": wallet.serial, "number": req.number, "signature": wallet.sign_b64(req)}

    def post(body: Any) -> Any:
        return client.post(_url(req.reference, "approval"), body, content_type="application/json")

    _problem(client.get(_url("nothing-here")), 404, "not_found")
    _problem(post({**good, "number": 7}), 400, "invalid")
    _problem(post({**good, "extra": "x"}), 400, "invalid")
    _problem(post({**good, "signature": "not base64!"}), 400, "invalid")
    _problem(post({**good, "serial": "ffff"}), 403, "auth.eid")
    wrong = f"{(int(req.number) + 1) % 100:02d}"
    # A wrong number counts only when signed as typed (the app signs what the person typed).
    _problem(post({**good, "number": wrong}), 403, "auth.signature")
    _problem(post({**good, "number": wrong, "signature": wallet.sign_b64(req, wrong)}), 403,
             "auth.number")
    other_req = services.mobile_eid_login_start(actor=ANONYMOUS, ip="192.0.2.1").request
    _problem(post({**good, "signature": wallet.sign_b64(other_req)}), 403, "auth.signature")

    def deny(body: Any) -> Any:
        return client.post(_url(req.reference, "denial"), body, content_type="application/json")

    _problem(deny({}), 400, "invalid")
    _problem(deny({**wallet.denial_body(req), "number": req.number}), 400, "invalid")
    _problem(deny({**wallet.denial_body(req), "signature": "not base64!"}), 400, "invalid")
    _problem(deny({**wallet.denial_body(req), "serial": "ffff"}), 403, "auth.eid")
    _problem(deny({**wallet.denial_body(req), "signature": good["signature"]}), 403,
             "auth.signature")
    denied = deny(wallet.denial_body(req))
    assert denied.status_code == 200 and denied.json() == {"status": "denied"}
    _problem(post(good), 409, "auth.not_pending")


def test_schema_describes_the_endpoints() -> None:
    paths = Client().get("/api/v1/schema").json()["paths"]
    assert "/api/v1/eid/auth-requests/{reference}/approval" in paths
    assert "/api/v1/eid/auth-requests/{reference}/denial" in paths


def test_sixth_approval_in_ten_minutes_is_refused(nina: User) -> None:
    wallet = activate(nina.person)
    client = Client()
    for n in range(6):
        req = services.mobile_eid_login_start(actor=ANONYMOUS, ip=f"192.0.2.{n + 1}").request
        answer = client.post(_url(req.reference, "approval"),
                             {"serial": wallet.serial, "number": req.number,
                              "signature": wallet.sign_b64(req)},
                             content_type="application/json")
        if n < 5:
            assert answer.status_code == 200
    _problem(answer, 403, "auth.too_many")
    assert "too many logins" in answer.json()["detail"]


def _lookalike(reference: str) -> str:
    """`reference` with its first letter or digit replaced by a fullwidth or Cyrillic twin."""
    twins = {**{c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
             "a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441"}
    for i, char in enumerate(reference):
        if char in twins:
            return reference[:i] + twins[char] + reference[i + 1:]
    return "\uff21" + reference[1:]


@pytest.mark.parametrize("reference", [
    "%00", "abc%00def", "a" * 31 + "%00", "x" * 5000, "%F0%9F%98%80" * 8, "%C0%AF",
    "EIDAUTH1.abc", "a%0Ab", "%20" + "a" * 31, "a" * 33, "a" * 31,
])
def test_hostile_references_are_not_found_never_500(nina: User, reference: str) -> None:
    """Any text in the path is one answer: 404 `not_found`, problem+json (the reference is 32
    url-safe characters; a NUL would otherwise reach PostgreSQL, which refuses it)."""
    client = Client(raise_request_exception=False)
    _problem(client.get(_url(reference)), 404, "not_found")
    body = {"serial": "1f", "number": "12", "signature": "MEUCIQ=="}
    _problem(client.post(_url(reference, "approval"), body, content_type="application/json"),
             404, "not_found")
    _problem(client.post(_url(reference, "denial"), {"serial": "1f", "signature": "MEUCIQ=="},
                         content_type="application/json"), 404, "not_found")


def test_a_lookalike_reference_finds_nothing(nina: User) -> None:
    wallet = activate(nina.person)
    req = services.mobile_eid_login_start(actor=ANONYMOUS, ip="192.0.2.1").request
    twin = _lookalike(req.reference)
    client = Client(raise_request_exception=False)
    _problem(client.get(_url(twin)), 404, "not_found")
    _problem(client.post(_url(twin, "approval"),
                         {"serial": wallet.serial, "number": req.number,
                          "signature": wallet.sign_b64(req)}, content_type="application/json"),
             404, "not_found")
    req.refresh_from_db()
    assert req.status == "pending" and req.wrong_numbers == 0

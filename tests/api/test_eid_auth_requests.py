"""The out-of-band login API the mobile e-ID app calls: fetch, approve, deny (problem+json)."""

from __future__ import annotations

import base64
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


def _answers(reference: str) -> list[str]:
    return [_url(reference, "approval"), _url(reference, "denial")]


@pytest.mark.parametrize("member, value, status, code", [
    ("serial", "xyz", 400, "invalid"),
    ("serial", "0x1f", 400, "invalid"),
    ("serial", "f" * 41, 400, "invalid"),
    ("serial", "\uff11\uff46", 400, "invalid"),
    ("serial", 31, 400, "invalid"),
    ("serial", "", 400, "invalid"),
    ("signature", "A" * 401, 400, "invalid"),
    ("signature", "A" * 10_000, 400, "invalid"),
    ("signature", "YWJj\u00e9", 400, "invalid"),
    ("signature", "YWJ", 400, "invalid"),
    ("signature", None, 400, "invalid"),
    ("signature", "A" * 400, 403, "auth.signature"),
    ("signature", base64.b64encode(bytes(range(256)) + bytes(44)).decode(), 403,
     "auth.signature"),
    ("signature", base64.b64encode(b"\x30\x81\xff" + b"\x02" * 60).decode(), 403,
     "auth.signature"),
])
def test_hostile_members_are_refused_clearly(nina: User, member: str, value: Any, status: int,
                                             code: str) -> None:
    """Malformed serials and signatures, and well-formed base64 that is no DER signature, are
    400 or 403 problem+json for both answers, never a 500; the request keeps waiting."""
    wallet = activate(nina.person)
    req = services.mobile_eid_login_start(actor=ANONYMOUS, ip="192.0.2.1").request
    approval = {"serial": wallet.serial, "number": req.number, "signature": wallet.sign_b64(req)}
    client = Client(raise_request_exception=False)
    for url, body in zip(_answers(req.reference), [approval, wallet.denial_body(req)],
                         strict=True):
        _problem(client.post(url, {**body, member: value}, content_type="application/json"),
                 status, code)
    req.refresh_from_db()
    assert req.status == "pending" and req.wrong_numbers == 0


@pytest.mark.parametrize("number", ["\u0660\u0667", "\uff10\uff17", "7", "007", " 07", 7, None,
                                    "0x"])
def test_a_number_is_two_ascii_digits(nina: User, number: Any) -> None:
    wallet = activate(nina.person)
    req = services.mobile_eid_login_start(actor=ANONYMOUS, ip="192.0.2.1").request
    body = {"serial": wallet.serial, "number": number, "signature": wallet.sign_b64(req)}
    answer = Client(raise_request_exception=False).post(
        _url(req.reference, "approval"), body, content_type="application/json")
    if number == " 07":  # surrounding space is trimmed (JSON string members)
        assert answer.status_code in (200, 403)
    else:
        _problem(answer, 400, "invalid")
    req.refresh_from_db()
    assert req.wrong_numbers == 0


@pytest.mark.parametrize("content_type, body, status, code", [
    ("text/plain", "{}", 415, "unsupported_media_type"),
    ("application/x-www-form-urlencoded", "serial=1f&signature=AAAA", 415,
     "unsupported_media_type"),
    ("multipart/form-data; boundary=x", "--x--", 415, "unsupported_media_type"),
    ("application/json", "", 400, "invalid"),
    ("application/json", "[]", 400, "invalid"),
    ("application/json", "null", 400, "invalid"),
    ("application/json", '"text"', 400, "invalid"),
    ("application/json", "{", 400, "parse_error"),
    ("application/json", "\x00", 400, "parse_error"),
])
def test_only_a_json_object_is_read(nina: User, content_type: str, body: str, status: int,
                                    code: str) -> None:
    req = services.mobile_eid_login_start(actor=ANONYMOUS, ip="192.0.2.1").request
    client = Client(raise_request_exception=False)
    for url in _answers(req.reference):
        _problem(client.generic("POST", url, body, content_type=content_type), status, code)
    req.refresh_from_db()
    assert req.status == "pending"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_other_methods_are_405_problem_json(nina: User, method: str) -> None:
    req = services.mobile_eid_login_start(actor=ANONYMOUS, ip="192.0.2.1").request
    client = Client(raise_request_exception=False)
    for url in [_url(req.reference), *_answers(req.reference)]:
        _problem(client.generic(method, url, "{}", content_type="application/json"), 405,
                 "method_not_allowed")
    _problem(client.get(_url(req.reference, "approval")), 405, "method_not_allowed")
    _problem(client.post(_url(req.reference), {}, content_type="application/json"), 405,
             "method_not_allowed")

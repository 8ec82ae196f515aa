"""The out-of-band login with the mobile e-ID under concurrency, on PostgreSQL: parallel
approvals of one request over HTTP (exactly one wins), and an approval racing the e-ID's
revocation (a revoked e-ID never completes a login), and parallel starts from one address
(at most five wait). Lock order: person → e-ID → request
(apps.issuance.services.authenticate)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from apps.commissions.models import Employee
from apps.core.actors import ANONYMOUS, SYSTEM
from apps.identities.models import User
from apps.issuance import services
from apps.issuance.models import MobileEID, OutOfBandRequest
from tests.concurrency.support import at_once, post_form, post_json
from tests.issuance.oob_support import activate


def _started() -> tuple[OutOfBandRequest, str]:
    """A new request and the binding its browser's session would keep."""
    started = services.mobile_eid_login_start(actor=ANONYMOUS, ip="192.0.2.1")
    return started.request, started.binding


@pytest.mark.django_db(transaction=True)
def test_parallel_approvals_of_one_request_exactly_one_wins(
        live_server: Any, nurse: tuple[User, Employee], issuing_ca: Any) -> None:
    wallet = activate(nurse[0].person)
    req, _binding = _started()
    body = {"serial": wallet.serial, "number": req.number, "signature": wallet.sign_b64(req)}
    path = f"/api/v1/eid/auth-requests/{req.reference}/approval"
    answers = at_once([lambda: post_json(live_server.url, path, body) for _ in range(6)])
    assert sorted(answer.status for answer in answers) == [200] + [409] * 5
    req.refresh_from_db()
    assert req.status == OutOfBandRequest.Status.APPROVED


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_an_approval_racing_revocation_never_completes_with_a_revoked_e_id(
        live_server: Any, nurse: tuple[User, Employee], issuing_ca: Any, attempt: int) -> None:
    wallet = activate(nurse[0].person)
    req, binding = _started()
    eid = MobileEID.objects.get(serial=wallet.serial)
    body = {"serial": wallet.serial, "number": req.number, "signature": wallet.sign_b64(req)}
    path = f"/api/v1/eid/auth-requests/{req.reference}/approval"

    def revoke() -> Any:
        try:
            services.eid_revoke(actor=SYSTEM, eid=eid, reason="Phone lost")
        finally:
            connection.close()  # this thread's own connection

    approval: Any = at_once([lambda: post_json(live_server.url, path, body), revoke])[0]
    assert approval.status in (200, 403)
    eid.refresh_from_db()
    assert eid.status == MobileEID.Status.REVOKED
    req.refresh_from_db()
    # Approved before the revocation or refused after it; either way no login completes now.
    assert req.status in (OutOfBandRequest.Status.APPROVED, OutOfBandRequest.Status.PENDING,
                          OutOfBandRequest.Status.CANCELLED)
    completion = services.mobile_eid_login_complete(actor=ANONYMOUS, reference=req.reference,
                                                    binding=binding)
    assert completion.user is None and completion.status != OutOfBandRequest.Status.CONSUMED


@pytest.mark.django_db(transaction=True)
def test_parallel_approvals_by_one_person_stop_at_five(
        live_server: Any, nurse: tuple[User, Employee], issuing_ca: Any) -> None:
    wallet = activate(nurse[0].person)
    requests = [services.mobile_eid_login_start(actor=ANONYMOUS, ip=f"192.0.2.{n + 1}").request
                for n in range(8)]

    def approval(req: OutOfBandRequest) -> Any:
        body = {"serial": wallet.serial, "number": req.number, "signature": wallet.sign_b64(req)}
        return lambda: post_json(live_server.url,
                                 f"/api/v1/eid/auth-requests/{req.reference}/approval", body)

    answers = at_once([approval(req) for req in requests])
    assert sorted(answer.status for answer in answers) == [200] * 5 + [403] * 3
    assert OutOfBandRequest.objects.filter(status=OutOfBandRequest.Status.APPROVED).count() == 5


@pytest.mark.django_db(transaction=True)
def test_an_approval_racing_a_denial_exactly_one_wins(
        live_server: Any, nurse: tuple[User, Employee], issuing_ca: Any) -> None:
    wallet = activate(nurse[0].person)
    req, binding = _started()
    base = f"/api/v1/eid/auth-requests/{req.reference}"
    approval = {"serial": wallet.serial, "number": req.number, "signature": wallet.sign_b64(req)}
    answers = at_once([lambda: post_json(live_server.url, base + "/approval", approval),
                       lambda: post_json(live_server.url, base + "/denial",
                                         wallet.denial_body(req))] * 3)
    assert sorted(answer.status for answer in answers) == [200] + [409] * 5
    req.refresh_from_db()
    winner = next(answer for answer in answers if answer.status == 200).json()["status"]
    assert req.status == winner
    completion = services.mobile_eid_login_complete(actor=ANONYMOUS, reference=req.reference,
                                                    binding=binding)
    assert (completion.user is not None) == (winner == "approved")


@pytest.mark.django_db(transaction=True)
def test_parallel_signed_wrong_numbers_cancel_at_the_third(
        live_server: Any, nurse: tuple[User, Employee], issuing_ca: Any) -> None:
    wallet = activate(nurse[0].person)
    req, _binding = _started()
    wrong = f"{(int(req.number) + 1) % 100:02d}"
    body = {"serial": wallet.serial, "number": wrong, "signature": wallet.sign_b64(req, wrong)}
    path = f"/api/v1/eid/auth-requests/{req.reference}/approval"
    answers = at_once([lambda: post_json(live_server.url, path, body) for _ in range(6)])
    assert sorted(answer.status for answer in answers) == [403] * 3 + [404] * 3
    req.refresh_from_db()
    assert req.status == OutOfBandRequest.Status.CANCELLED and req.wrong_numbers == 3


@pytest.mark.django_db(transaction=True)
def test_parallel_starts_from_one_address_stop_at_five(live_server: Any) -> None:
    # Twelve browsers behind one address start a login at the same moment: at most five
    # requests may wait per address (docs/authentication.md), whatever the timing.
    answers = at_once([lambda: post_form(live_server.url, "/login/mobile-eid/", {})
                       for _ in range(12)])
    assert sorted(answer.status for answer in answers) == [200] * 5 + [403] * 7, answers
    assert OutOfBandRequest.objects.filter(status=OutOfBandRequest.Status.PENDING).count() == 5

"""Concurrency on PostgreSQL: CRLs made at the same moment never share a number nor go backwards
(RFC 5280 5.2.3).

Proven with parallel threads, each with its own database connection (HTTP requests against the
live server, or service calls), so the row lock (`SELECT ... FOR UPDATE`) is what decides. SQLite
has no row locks, so these tests skip there.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from celery._state import _set_task_join_will_block
from cryptography import x509
from django.db import connection
from django.db.models import F

from apps.audit.models import AuditEvent
from apps.commissions.models import Employee
from apps.core.actors import SYSTEM
from apps.identities.models import User
from apps.issuance import revocation, selectors, services
from apps.issuance.ca import IssuingCA
from apps.issuance.models import (
    CertificateRevocationList,
    MobileEID,
    RevocationCounter,
)
from apps.organisations.models import Organisation
from tests.conftest import make_staff
from tests.issuance.support import issue, redeem_qr

PARALLEL = 6


@pytest.fixture(autouse=True)
def celery_join_flag() -> Iterator[None]:
    """Celery's eager mode marks "inside a task" in one process-wide flag, set and restored around
    each eager task; the after-commit tasks that run in parallel threads here can leave it set, so
    that later `result.get()` calls refuse. Clear it after each test."""
    yield
    _set_task_join_will_block(False)


def _post(url: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


CRL_MAKERS = 5


def _needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the proof relies on row locks (SELECT ... FOR UPDATE), "
                    "which SQLite does not have; run with DATABASE_URL=postgres://...")


@pytest.mark.django_db(transaction=True)
def test_concurrent_crl_makers_never_share_a_number_nor_go_backwards(
    tree: dict[str, Organisation], issuing_ca: IssuingCA
) -> None:
    """Each thread (own database connection) revokes its e-IDs one after the other and after each
    asks for a current CRL, so several threads make a CRL at the same moment (and the after-commit
    task of each revocation makes more). Every CRL gets its own number, in the order the CRLs were
    made, and lists at least what the CRL before it listed."""
    _needs_postgresql()
    people = [make_staff(tree["cardio"], f"Crl{i}", "Maker", care=True)[0].person
              for i in range(CRL_MAKERS)]
    owned = [[redeem_qr(issue(person)).eid for _ in range(2)] for person in people]
    eids = [eid for pair in owned for eid in pair]
    revocation.crl_refresh(actor=SYSTEM)
    start = threading.Barrier(CRL_MAKERS)
    errors: list[BaseException] = []

    def revoke_and_publish(mine: list[MobileEID]) -> None:
        try:
            start.wait()
            for eid in mine:
                services.eid_revoke(actor=SYSTEM, eid=eid, reason="Concurrency test")
                revocation.crl_refresh(actor=SYSTEM)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=revoke_and_publish, args=(mine,)) for mine in owned]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []

    made = list(CertificateRevocationList.objects.order_by("created_at"))
    numbers = [crl.number for crl in made]
    assert numbers == list(range(1, len(made) + 1)), "unique, consecutive, in the order made"
    assert all(a.this_update < b.this_update for a, b in itertools.pairwise(made))
    assert all(a.entries <= b.entries for a, b in itertools.pairwise(made))
    counters = dict(RevocationCounter.objects.values_list("name", "value"))
    assert counters == {"crl_number": numbers[-1], "revocations": len(eids)}
    assert made[-1].revocations == len(eids)
    assert AuditEvent.objects.filter(action="crl.published").count() == len(made)
    current = x509.load_der_x509_crl(bytes(selectors.crl_with_der(made[-1]).der or b""))
    assert current.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == (
        numbers[-1])
    assert {entry.serial_number for entry in current} == {int(eid.serial, 16) for eid in eids}


@pytest.mark.django_db(transaction=True)
def test_parallel_fetches_of_an_out_of_date_crl_make_exactly_one(
    live_server: Any, nurse: tuple[User, Employee], issuing_ca: IssuingCA
) -> None:
    """Many relying parties fetch the CRL the moment it is due: one request makes the new CRL,
    the others wait for the lock and serve that same CRL."""
    _needs_postgresql()
    eid = redeem_qr(issue(nurse[0].person)).eid
    services.eid_revoke(actor=SYSTEM, eid=eid, reason="Phone lost")
    due = revocation.crl_refresh(actor=SYSTEM)
    shift = dt.timedelta(minutes=31)
    CertificateRevocationList.objects.filter(pk=due.pk).update(
        this_update=F("this_update") - shift, next_update=F("next_update") - shift)
    before = CertificateRevocationList.objects.count()
    start = threading.Barrier(PARALLEL)
    answers: list[tuple[int, str, bytes]] = []
    lock = threading.Lock()

    def fetch() -> None:
        start.wait()
        with urllib.request.urlopen(live_server.url + "/issuance/crl", timeout=60) as response:
            outcome = (response.status, response.headers["ETag"], response.read())
        with lock:
            answers.append(outcome)

    threads = [threading.Thread(target=fetch) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(answers) == PARALLEL and {status for status, _, _ in answers} == {200}
    assert len({(etag, body) for _, etag, body in answers}) == 1
    assert CertificateRevocationList.objects.count() == before + 1
    crl = x509.load_der_x509_crl(answers[0][2])
    assert crl.get_revoked_certificate_by_serial_number(int(eid.serial, 16)) is not None

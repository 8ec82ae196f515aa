"""Two (or more) concurrent redemptions of one code: exactly one wins.

Proven on PostgreSQL with parallel HTTP requests against the live server: each request runs in its
own thread with its own database connection, so the row lock (`SELECT ... FOR UPDATE`) is what
decides. SQLite has no row locks, so the test skips there.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
from django.db import connection

from apps.commissions.models import Employee
from apps.identities.models import User
from apps.issuance.ca import IssuingCA
from apps.issuance.models import ActivationCode, MobileEID
from tests.issuance.support import device_csr, issue

PARALLEL = 6


def _post(url: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_of_one_code_exactly_one_wins(
    live_server: Any, nurse: tuple[User, Employee], issuing_ca: IssuingCA
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the proof relies on row locks (SELECT ... FOR UPDATE), "
                    "which SQLite does not have; run with DATABASE_URL=postgres://...")
    person = nurse[0].person
    issued = issue(person)
    url = live_server.url + "/api/v1/eid/activations"
    bodies = [{"csr": device_csr(f"Phone {i}")[1], "qr_payload": issued.qr_payload,
               "device_name": f"Phone {i}"} for i in range(PARALLEL)]
    start = threading.Barrier(PARALLEL)
    results: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def redeem(body: dict[str, str]) -> None:
        start.wait()
        outcome = _post(url, body)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=redeem, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (PARALLEL - 1), results
    assert {body["code"] for status, body in results if status == 409} == {"code_used"}
    assert MobileEID.objects.filter(person=person).count() == 1
    assert ActivationCode.objects.get(pk=issued.code.pk).used_at is not None

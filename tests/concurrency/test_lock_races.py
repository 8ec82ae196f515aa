"""A transaction that loses a deadlock is run again a bounded number of times, then refused
clearly and audited (apps.core.db.atomic_with_retry; docs/architecture.md, "Lock order").

No service of the portal takes locks against the lock order, so these tests play the part of
one that would: a second connection holds the activation code, waits until the redemption waits
for it, and then asks for the person the redemption holds. PostgreSQL finds the deadlock in the
redemption's connection first (it has waited longest) and aborts its transaction.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction

from apps.audit.models import AuditEvent
from apps.commissions.models import Employee
from apps.core.db import ATTEMPTS, atomic_with_retry
from apps.identities.models import Person, User
from apps.issuance.ca import IssuingCA
from apps.issuance.models import ActivationCode, MobileEID
from tests.concurrency.support import post_json
from tests.issuance.support import device_csr, issue

API = "/api/v1/eid/activations"
#: The deadlock victim is the connection whose deadlock_timeout (1 s) runs out first: the other
#: one starts waiting this much later.
MARGIN_SECONDS = 0.3


def _wait_for_lock_wait(query_part: str, timeout: float = 30) -> None:
    """Until another connection waits for a lock in a statement containing `query_part`."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else frozen for the transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND wait_event_type = 'Lock' AND query LIKE %s", [f"%{query_part}%"])
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError(f"nobody waited for a lock in {query_part!r}")


class Deadlocker(threading.Thread):
    """Holds `code` (once `holding` is set); `times` times waits until the redemption waits for
    it, then asks for its person, so that the redemption deadlocks and is aborted; then lets go
    (`done`)."""

    def __init__(self, code: ActivationCode, times: int) -> None:
        super().__init__()
        self.code, self.times = code, times
        self.holding, self.done = threading.Event(), threading.Event()
        self.start()
        assert self.holding.wait(30)

    def run(self) -> None:
        try:
            self._run()
        finally:
            connection.close()
            self.done.set()

    def _run(self) -> None:
        code = self.code
        with transaction.atomic():
            ActivationCode.objects.select_for_update().get(pk=code.pk)
            self.holding.set()
            for _ in range(self.times):
                savepoint = transaction.savepoint()
                _wait_for_lock_wait('FROM "issuance_activationcode"')
                time.sleep(MARGIN_SECONDS)
                Person.objects.select_for_update().get(pk=code.person_id)
                transaction.savepoint_rollback(savepoint)  # gives the person back


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("losses", [1, ATTEMPTS - 1])
def test_a_redemption_that_loses_a_deadlock_is_run_again(
    live_server: Any, nurse: tuple[User, Employee], issuing_ca: IssuingCA, losses: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    issued = issue(nurse[0].person)
    deadlocker = Deadlocker(issued.code, losses)
    answer = post_json(live_server.url, API, {"csr": device_csr()[1],
                                              "qr_payload": issued.qr_payload})
    assert deadlocker.done.wait(30)
    assert answer.status == 201, answer
    assert MobileEID.objects.filter(person=nurse[0].person).count() == 1
    retried = [r for r in caplog.records if r.name == "apps.core.db"]
    assert len(retried) == losses and "deadlock detected" in retried[0].getMessage()


@pytest.mark.django_db(transaction=True)
def test_a_redemption_that_keeps_losing_is_refused_busy_and_audited(
    live_server: Any, nurse: tuple[User, Employee], issuing_ca: IssuingCA
) -> None:
    person = nurse[0].person
    issued = issue(person)
    deadlocker = Deadlocker(issued.code, ATTEMPTS)
    answer = post_json(live_server.url, API, {"csr": device_csr()[1],
                                              "qr_payload": issued.qr_payload,
                                              "device_name": "Unlucky phone"})
    assert deadlocker.done.wait(30)
    assert answer.status == 503 and answer.content_type == "application/problem+json", answer
    assert answer.json()["code"] == "busy"
    assert answer.json()["detail"] == "The service is busy. Try again in a moment."
    event = AuditEvent.objects.get(action="activation_code.redeem_failed")
    assert event.subject_person_id == person.pk and event.target_id == str(issued.code.pk)
    assert event.changes["error"] == [None, "busy"]
    assert event.changes["device_name"] == [None, "Unlucky phone"]
    # Nothing else was written; the code still works.
    assert not MobileEID.objects.exists()
    assert ActivationCode.objects.get(pk=issued.code.pk).used_at is None
    retry = post_json(live_server.url, API, {"csr": device_csr()[1], "qr_payload": issued.qr_payload})
    assert retry.status == 201


@pytest.mark.django_db(transaction=True)
def test_inside_an_outer_transaction_a_lost_race_is_not_retried(
    nurse: tuple[User, Employee]
) -> None:
    """After a deadlock PostgreSQL has aborted the whole transaction: only its owner can run it
    again, so a nested atomic_with_retry runs once and lets the error through."""
    person = nurse[0].person
    issued = issue(person)
    runs = []

    def fn() -> None:
        runs.append(1)
        ActivationCode.objects.select_for_update().get(pk=issued.code.pk)

    with pytest.raises(OperationalError, match="deadlock detected"), transaction.atomic():
        Person.objects.select_for_update().get(pk=person.pk)
        deadlocker = Deadlocker(issued.code, 1)
        atomic_with_retry(fn)
    assert deadlocker.done.wait(30)
    assert runs == [1]

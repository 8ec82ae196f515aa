"""Delivering outbox events: once per event, retried with backoff, given up visibly, and never
twice when several deliverers run at once (PostgreSQL)."""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions.models import Employee
from apps.core.actors import SYSTEM
from apps.identities.models import User
from apps.issuance.ca import IssuingCA
from apps.issuance.handlers import eid_owner_notify
from apps.outbox import registry
from apps.outbox.delivery import DeliveryReport, deliver_pending, retry_delay
from apps.outbox.models import OutboxEvent
from tests.issuance.support import issue, redeem_qr
from tests.outbox.conftest import Recorder
from tests.outbox.support import TOPIC, thing_happen


@pytest.fixture
def nina(nurse: tuple[User, Employee]) -> User:
    """The nurse, her registration's own events (`person.changed`) delivered."""
    deliver_pending()
    return nurse[0]


def _time_passes(event: OutboxEvent) -> None:
    """Make `event` due now, as if its backoff had run out."""
    OutboxEvent.objects.filter(pk=event.pk).update(available_at=timezone.now())


@pytest.mark.django_db
def test_a_second_run_of_a_delivered_event_sends_nothing(nina: User, issuing_ca: IssuingCA) -> None:
    eid = redeem_qr(issue(nina.person)).eid
    assert deliver_pending().delivered == 1
    assert len(mail.outbox) == 1
    assert deliver_pending().delivered == 0  # delivered rows are not due any more

    # Even if the row were handed out again (its delivered mark lost), the handler recognises the
    # event by its id in the eid.notified row and sends nothing.
    event = OutboxEvent.objects.get(topic="eid.activated")
    OutboxEvent.objects.filter(pk=event.pk).update(delivered_at=None)
    assert deliver_pending().delivered == 1
    eid_owner_notify(registry.Event(id=event.id, topic=event.topic, key=event.idempotency_key,
                                    payload=event.payload, created_at=event.created_at, attempt=3))
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="eid.notified", target_id=str(eid.pk)).count() == 1


@pytest.mark.django_db
def test_a_failing_handler_backs_off_exponentially_then_gives_up_visibly(
    settings: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings.OUTBOX_RETRY_BASE_SECONDS = 10
    settings.OUTBOX_RETRY_MAX_SECONDS = 3600
    settings.OUTBOX_MAX_ATTEMPTS = 3

    def mail_server_down(event: registry.Event) -> None:
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setitem(registry._HANDLERS, TOPIC, mail_server_down)
    event = thing_happen(actor=SYSTEM, key="backoff")
    for attempt, (low, high) in enumerate([(5, 10), (10, 20)], start=1):
        before = timezone.now()
        assert deliver_pending().retried == 1
        event.refresh_from_db()
        assert event.attempts == attempt and event.delivered_at is None and event.failed_at is None
        assert event.last_error == "ConnectionRefusedError: mail server down"
        waited = (event.available_at - before).total_seconds()
        assert low - 1 <= waited <= high + 1, waited
        assert deliver_pending().retried == 0  # not due before the backoff ends
        _time_passes(event)

    with caplog.at_level(logging.ERROR, logger="apps.outbox.delivery"):
        assert deliver_pending().failed == 1
    assert f"gave up on event {event.id}" in caplog.text
    event.refresh_from_db()
    assert event.failed_at is not None and event.attempts == 3
    _time_passes(event)
    assert deliver_pending() == DeliveryReport()  # given up: never tried again by itself

    out = io.StringIO()
    call_command("outbox_failed", stdout=out)
    assert str(event.id) in out.getvalue() and "mail server down" in out.getvalue()
    assert "1 failed event(s)." in out.getvalue()

    # The operator fixed the mail server and retries: the event is delivered.
    recorder = Recorder()
    monkeypatch.setitem(registry._HANDLERS, TOPIC, recorder)
    call_command("outbox_failed", "--retry", stdout=io.StringIO())
    assert deliver_pending().delivered == 1
    assert [e.id for e in recorder.events] == [event.id] and recorder.events[0].attempt == 1


@pytest.mark.parametrize(("attempts", "low", "high"), [(1, 5, 10), (2, 10, 20), (4, 40, 80),
                                                        (12, 1800, 3600), (60, 1800, 3600)])
def test_the_backoff_doubles_with_jitter_up_to_its_cap(settings: Any, attempts: int, low: float,
                                                       high: float) -> None:
    settings.OUTBOX_RETRY_BASE_SECONDS = 10
    settings.OUTBOX_RETRY_MAX_SECONDS = 3600
    delays = {retry_delay(attempts) for _ in range(50)}
    assert all(low <= d <= high for d in delays)
    assert len(delays) > 1  # jittered


@pytest.mark.django_db
def test_one_failing_event_does_not_hold_up_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    delivered: list[str] = []

    def picky(event: registry.Event) -> None:
        if event.key == "bad":
            raise ValueError("cannot handle this one")
        delivered.append(event.key)

    monkeypatch.setitem(registry._HANDLERS, TOPIC, picky)
    for key in ("bad", "good-1", "good-2"):
        thing_happen(actor=SYSTEM, key=key)
    report = deliver_pending()
    assert (report.delivered, report.retried) == (2, 1)
    assert delivered == ["good-1", "good-2"]


@pytest.mark.django_db
def test_an_event_nobody_handles_waits_and_says_why() -> None:
    event = thing_happen(actor=SYSTEM, key="orphan", topic="nobody.listens")
    assert deliver_pending().retried == 1
    event.refresh_from_db()
    assert event.last_error.startswith("UnknownTopic: no handler is registered")


@pytest.mark.django_db
def test_a_handlers_database_writes_roll_back_with_its_failure(
    nina: User, issuing_ca: IssuingCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The e-mail handler's audit row and the delivered mark commit together or not at all."""
    from django.core.mail.backends.locmem import EmailBackend

    eid = redeem_qr(issue(nina.person)).eid
    real_send = EmailBackend.send_messages

    def send_then_fail(self: EmailBackend, messages: Any) -> int:
        real_send(self, messages)
        raise OSError("connection reset after the message was accepted")

    monkeypatch.setattr(EmailBackend, "send_messages", send_then_fail)
    assert deliver_pending().retried == 1
    assert not AuditEvent.objects.filter(action="eid.notified", target_id=str(eid.pk)).exists()
    # At least once (docs/decisions.md): the next try sends it again, as the same message.
    monkeypatch.setattr(EmailBackend, "send_messages", real_send)
    _time_passes(OutboxEvent.objects.get(topic="eid.activated"))
    assert deliver_pending().delivered == 1
    assert len(mail.outbox) == 2
    assert mail.outbox[0].extra_headers["Message-ID"] == mail.outbox[1].extra_headers["Message-ID"]


@pytest.mark.django_db(transaction=True)
def test_parallel_deliverers_never_deliver_one_event_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four deliverers (threads, each with its own PostgreSQL connection) race over 40 events:
    SKIP LOCKED hands each event to exactly one of them."""
    if connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("CI: the concurrency test needs PostgreSQL")
        pytest.skip("row locks need PostgreSQL (set DATABASE_URL)")
    recorder = Recorder()

    def slow_handler(event: registry.Event) -> None:
        recorder(event)
        time.sleep(0.02)  # widen the window in which the others look for work

    monkeypatch.setitem(registry._HANDLERS, TOPIC, slow_handler)
    monkeypatch.setattr("apps.outbox.services._wake_deliverer", lambda: None)  # deliver by hand
    events = [thing_happen(actor=SYSTEM, key=f"parallel-{n}") for n in range(40)]
    start = threading.Barrier(4)
    reports: list[Any] = []

    def deliverer() -> None:
        try:
            start.wait()
            reports.append(deliver_pending())
        finally:
            connection.close()

    threads = [threading.Thread(target=deliverer, name=f"deliverer-{n}") for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    handled_ids = [event.id for event in recorder.events]
    assert sorted(handled_ids) == sorted(event.id for event in events)  # each exactly once
    assert sum(report.delivered for report in reports) == 40
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()
    assert len(set(recorder.threads)) > 1, "the deliverers did not run in parallel"

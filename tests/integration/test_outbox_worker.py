"""The e-ID e-mail survives a broker that is down during the write and a worker killed while it
delivers: real Celery worker and beat processes on Redis and PostgreSQL."""

from __future__ import annotations

import email
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from apps.audit.models import AuditEvent
from apps.outbox.models import OutboxEvent
from tests.conftest import make_staff
from tests.integration.conftest import mails, wait_for
from tests.issuance.support import issue, redeem_qr
from tests.portal.support import unreachable_broker_url, using_broker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _delivered(eid_id: Any) -> bool:
    return OutboxEvent.objects.filter(payload__eid_id=str(eid_id), delivered_at__isnull=False).exists()


def test_broker_down_during_the_write_then_worker_and_beat_send_the_email_once(
    start_celery: Any, var_dir: Path, tree: Any, issuing_ca: Any
) -> None:
    user, _ = make_staff(tree["cardio"], "Bror", "Broker", care=True)
    with using_broker(unreachable_broker_url()):  # the web process cannot reach the broker
        eid = redeem_qr(issue(user.person)).eid
    assert not _delivered(eid.pk) and mails(var_dir) == []

    start_celery("worker")  # later, the worker and the scheduler run
    start_celery("beat")
    assert wait_for(lambda: _delivered(eid.pk)), "the outbox event was not delivered within 60 s"
    time.sleep(3)  # a few more scheduled runs: nothing is sent again
    sent = mails(var_dir)
    assert len(sent) == 1 and "To: bror@example.invalid" in sent[0] and eid.serial in sent[0]
    assert AuditEvent.objects.filter(action="eid.notified", target_id=str(eid.pk)).count() == 1


@pytest.mark.parametrize("crash", ["before", "after"])
def test_a_worker_killed_mid_delivery_is_replaced_and_the_email_is_sent(
    crash: str, start_celery: Any, var_dir: Path, tree: Any, issuing_ca: Any
) -> None:
    """kill -9 while the handler runs, with the e-mail not yet written (`before`) or written but
    not committed (`after`): another worker sends it, once or (after) a second time with the same
    Message-ID: at least once, as docs/decisions.md says."""
    marker = var_dir / "handler-running"
    doomed = start_celery("worker", EMAIL_BACKEND="tests.integration.slow_mail.EmailBackend",
                          SLOW_MAIL=crash, SLOW_MAIL_MARKER=str(marker))
    user, _ = make_staff(tree["cardio"], "Kim", "Killed", care=True)
    eid = redeem_qr(issue(user.person)).eid  # the wake-up task reaches the doomed worker
    assert wait_for(marker.exists), "the worker did not start delivering within 60 s"
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    assert not _delivered(eid.pk)
    assert len(mails(var_dir)) == (1 if crash == "after" else 0)

    start_celery("worker")
    start_celery("beat")
    assert wait_for(lambda: _delivered(eid.pk)), "the outbox event was not delivered within 60 s"
    time.sleep(3)
    sent = [email.message_from_string(text) for text in mails(var_dir)]
    assert len(sent) == (2 if crash == "after" else 1)
    assert all(message["To"] == "kim@example.invalid" for message in sent)
    assert len({message["Message-ID"] for message in sent}) == 1
    assert AuditEvent.objects.filter(action="eid.notified", target_id=str(eid.pk)).count() == 1

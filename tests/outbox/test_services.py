"""Publishing to the outbox: the event commits with the write that caused it, or not at all, and
a broker that cannot be reached loses nothing."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.db import transaction

from apps.audit import context
from apps.audit.models import AuditEvent
from apps.commissions.models import Employee
from apps.core.actors import SYSTEM
from apps.core.calls import service
from apps.identities.models import User
from apps.issuance import services
from apps.issuance.ca import IssuingCA
from apps.issuance.models import MobileEID
from apps.outbox.delivery import deliver_pending
from apps.outbox.models import OutboxEvent
from apps.outbox.services import PublishRefused, publish
from tests.issuance.support import issue, redeem_qr
from tests.outbox.conftest import Recorder
from tests.outbox.support import TOPIC, thing_happen


@pytest.fixture
def nina(nurse: tuple[User, Employee]) -> User:
    """The nurse, her registration's own events (`person.changed`) delivered."""
    deliver_pending()
    return nurse[0]


@pytest.mark.django_db(transaction=True)
def test_the_e_id_and_its_event_commit_together_and_the_email_follows(
    nina: User, issuing_ca: IssuingCA
) -> None:
    eid = redeem_qr(issue(nina.person)).eid  # commits; tests run Celery eagerly
    event = OutboxEvent.objects.get(topic="eid.activated")
    assert event.payload == {"eid_id": str(eid.pk), "event": "activated"}
    assert event.idempotency_key == f"eid.activated:{eid.pk}"
    # The wake-up enqueued after the commit delivered it at once.
    assert event.delivered_at is not None and event.attempts == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [nina.person.email]
    host = urlsplit(settings.PORTAL_BASE_URL).hostname
    assert mail.outbox[0].extra_headers["Message-ID"] == f"<{event.id}@{host}>"


@pytest.mark.django_db
def test_a_rolled_back_write_leaves_no_event_and_sends_nothing(
    nina: User, issuing_ca: IssuingCA
) -> None:
    eid = redeem_qr(issue(nina.person)).eid
    with pytest.raises(RuntimeError), transaction.atomic():
        services.eid_revoke(actor=nina, eid=eid, reason="Phone lost")
        assert OutboxEvent.objects.filter(topic="eid.revoked").exists()
        raise RuntimeError("the request failed after the revocation")
    assert not OutboxEvent.objects.filter(topic="eid.revoked").exists()
    assert MobileEID.objects.get(pk=eid.pk).status == MobileEID.Status.ACTIVE
    assert deliver_pending().delivered == 1  # the activation's e-mail only
    assert [m.subject for m in mail.outbox] == ["A mobile e-ID was activated for you"]


@pytest.mark.django_db(transaction=True)
def test_the_broker_down_during_the_write_loses_no_email(
    nina: User, issuing_ca: IssuingCA, broker_down: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="apps.outbox.services"):
        activation = redeem_qr(issue(nina.person))  # commits; the wake-up finds no broker
    assert "could not enqueue a delivery task" in caplog.text
    assert MobileEID.objects.filter(pk=activation.eid.pk).exists()  # the device got its e-ID
    event = OutboxEvent.objects.get(topic="eid.activated")
    assert event.delivered_at is None and mail.outbox == []

    assert deliver_pending().delivered == 1  # what the scheduled task runs once it can
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [nina.person.email]
    assert AuditEvent.objects.filter(action="eid.notified", target_id=str(activation.eid.pk)).count() == 1


@pytest.mark.django_db
def test_the_event_carries_the_request_id_to_the_handlers_audit_row(
    nina: User, issuing_ca: IssuingCA
) -> None:
    with context.using(context.RequestContext(request_id="req-activation-7")):
        eid = redeem_qr(issue(nina.person)).eid
    assert OutboxEvent.objects.get(topic="eid.activated").request_id == "req-activation-7"
    deliver_pending()
    notified = AuditEvent.objects.get(action="eid.notified", target_id=str(eid.pk))
    assert notified.request_id == "req-activation-7"


@pytest.mark.django_db
def test_publishing_a_key_again_records_nothing_new(handled: Recorder) -> None:
    first = thing_happen(actor=SYSTEM, key="k-1")
    assert thing_happen(actor=SYSTEM, key="k-1") == first
    assert OutboxEvent.objects.count() == 1
    with pytest.raises(ValueError):
        thing_happen(actor=SYSTEM, key="k-1", payload={"other": 1})
    assert deliver_pending().delivered == 1 and len(handled.events) == 1


@pytest.mark.django_db
def test_publish_refuses_outside_a_transaction_and_outside_a_service() -> None:
    with pytest.raises(PublishRefused):
        publish(topic=TOPIC, payload={}, key="outside")
    with pytest.raises(PublishRefused), transaction.atomic():
        publish(topic=TOPIC, payload={}, key="no-service")

    @service
    def no_policy(*, actor: Any) -> None:
        with transaction.atomic():
            publish(topic=TOPIC, payload={}, key="no-policy")

    with pytest.raises(PublishRefused):
        no_policy(actor=SYSTEM)
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("payload", [{"when": dt.date(2026, 1, 1)}, {"who": SYSTEM}, ["a list"],
                                     {1: "int key"}, {"nested": {"set": {1, 2}}}])
def test_the_payload_is_plain_json_of_ids_and_primitives(payload: Any) -> None:
    with pytest.raises(PublishRefused):
        thing_happen(actor=SYSTEM, key="bad", payload=payload)
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "k" * 201])
def test_the_key_is_1_to_200_characters(key: str) -> None:
    with pytest.raises(ValueError):
        thing_happen(actor=SYSTEM, key=key)

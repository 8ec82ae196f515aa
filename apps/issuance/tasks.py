"""Celery tasks of the issuance app. Ids and primitives only; one service call each."""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.db import transaction

from apps.core.actors import WORKER
from apps.issuance.models import MobileEID

logger = logging.getLogger(__name__)


@shared_task(
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    acks_late=True,
)
def eid_notify_task(eid_id: str, event: str) -> bool:
    """E-mail the person about e-ID `eid_id` (`event`: "activated" or "revoked").

    Enqueued with `transaction.on_commit`, so it never runs for a rolled-back change. Acts as the
    worker (`apps.core.actors.WORKER`), with the enqueuing request id (portal.celery.PortalTask);
    transient e-mail errors are retried with exponential backoff (up to 8 retries, at most 10
    minutes apart). Returns whether an e-mail was sent.
    """
    from apps.issuance import services  # services enqueue this task: import at call time

    return services.eid_notify(actor=WORKER, eid_id=eid_id, event=event)


def notify_after_commit(eid: MobileEID, event: str) -> None:
    """Enqueue the e-mail task once the transaction commits.

    The e-ID is already bound or revoked then, so a broker that cannot be reached must not turn the
    answer into an error (the device would believe the activation failed while its code is spent):
    the failure is logged for the operator instead.
    """
    eid_id = str(eid.pk)

    def enqueue() -> None:
        try:
            eid_notify_task.delay(eid_id, event)
        except Exception:  # noqa: BLE001 - any broker error; eager-mode task errors too
            logger.exception("could not enqueue the %s e-mail for e-ID %s", event, eid_id)

    transaction.on_commit(enqueue)

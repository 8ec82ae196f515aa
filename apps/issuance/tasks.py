"""Celery tasks of the issuance app. Ids and primitives only; one service call each."""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.db import OperationalError

from apps.audit import context
from apps.core.actors import SystemActor
from apps.issuance.ca import CAError

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

    Enqueued with `transaction.on_commit`, so it never runs for a rolled-back change. Runs as the
    system actor `celery:<task name>` carrying the enqueuing request id (portal.celery.PortalTask);
    transient e-mail errors are retried with exponential backoff (up to 8 retries, at most 10
    minutes apart). Returns whether an e-mail was sent.
    """
    from apps.issuance import services  # services enqueue this task: import at call time

    ctx = context.current()
    label = ctx.actor_label if ctx else "celery"
    return services.eid_notify(actor=SystemActor(label), eid_id=eid_id, event=event)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def crl_refresh_task() -> int | None:
    """Make a new CRL unless the stored one is current; return the current CRL's number.

    Enqueued after every revocation commits and run every 10 minutes by Celery beat
    (`CELERY_BEAT_SCHEDULE`), so a new CRL exists long before the last one's nextUpdate; it also
    recounts the revoked e-IDs (`crl_refresh(recount=True)`). Runs as the system actor
    `celery:<task name>`. Without a usable CA it logs a warning and returns None (nothing to
    publish). A lost run costs nothing: the CRL endpoint makes the CRL itself when the stored one
    is out of date (`apps.issuance.revocation`). Retries database outages with backoff.
    """
    from apps.issuance import revocation  # revocation enqueues this task: import at call time

    ctx = context.current()
    try:
        crl = revocation.crl_refresh(actor=SystemActor(ctx.actor_label if ctx else "celery"),
                                     recount=True)
    except CAError as exc:
        logger.warning("no CRL published: %s", exc)
        return None
    return crl.number


@shared_task
def ocsp_responder_renew_task() -> bool:
    """Renew the delegated OCSP responder's key and certificate when they end within 10 days.

    Run daily by Celery beat (`CELERY_BEAT_SCHEDULE`); `manage.py issuance_ca_init` does the same
    at every deployment. Returns whether a new responder was written. Raises CAError when the CA
    files are unusable (the operator sees it in the worker's log).
    """
    from apps.issuance import authority

    return authority.ocsp_responder_ensure(authority.ca_load())

"""Celery tasks of the issuance app. Ids and primitives only; one service call each."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from apps.core.actors import WORKER
from apps.issuance.ca import CAError

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def crl_refresh_task() -> int | None:
    """Make a new CRL unless the stored one is current; return the current CRL's number.

    Enqueued after every revocation commits and run every 10 minutes by Celery beat
    (`CELERY_BEAT_SCHEDULE`), so a new CRL exists long before the last one's nextUpdate; it also
    recounts the revoked e-IDs (`crl_refresh(recount=True)`). Acts as the worker
    (`apps.core.actors.WORKER`). Without a usable CA it logs a warning and returns None (nothing to
    publish). A lost run costs nothing: the CRL endpoint makes the CRL itself when the stored one
    is out of date (`apps.issuance.revocation`). Retries database outages with backoff.
    """
    from apps.issuance import revocation  # revocation enqueues this task: import at call time

    try:
        crl = revocation.crl_refresh(actor=WORKER, recount=True)
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


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def oob_requests_prune_task() -> int:
    """Delete out-of-band login requests a day after they expired
    (`apps.issuance.retention.oob_requests_prune`); return how many went. Run hourly by Celery
    beat (`CELERY_BEAT_SCHEDULE`); a lost run only leaves the rows for the next. Retries database
    outages with backoff."""
    from apps.issuance import retention

    return retention.oob_requests_prune()

"""Telling the person about a mobile e-ID through an independent channel (e-mail).

The service that binds or revokes an e-ID publishes an outbox event in its own transaction
(`apps.issuance.events.eid_event_publish`); the outbox delivers it to
`apps.issuance.handlers.eid_owner_notify`, which calls `eid_notify` as the worker. So the e-mail
cannot be lost once the change is committed, even when the broker or the worker is down
(docs/architecture.md, "The outbox").
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from apps.audit.models import AuditEvent
from apps.audit.services import record
from apps.core.calls import service
from apps.core.errors import NotFound
from apps.identities.actors import Actor
from apps.issuance import audit, policies
from apps.issuance.events import NOTIFY_EVENTS
from apps.issuance.models import MobileEID

logger = logging.getLogger(__name__)



@service
def eid_notify(*, actor: Actor, eid_id: str, event: str, notification_id: str) -> bool:
    """E-mail the person that a mobile e-ID was bound to them (`activated`) or `revoked`.

    The independent channel: the address registered for the person, not the device. Only the
    portal's own system actors send it (`policies.require_notify`). `notification_id` names this
    notification (the outbox event's id): it is recorded in the `eid.notified` audit row, which is
    written in the same transaction as the send, and a notification already recorded is not sent
    again (returns False). It is also the e-mail's Message-ID (RFC 5322 3.6.4), so a copy sent
    again after a crash before the commit is the same message to the mail system. Returns False
    (and audits nothing) when the person has no e-mail address.

    Raises Forbidden for another actor, NotFound for an unknown e-ID, ValueError for an unknown
    event, and the e-mail backend's errors (`smtplib.SMTPException`, `OSError`), so that the
    outbox tries again later.
    """
    policies.require_notify(actor)
    if event not in NOTIFY_EVENTS:
        raise ValueError(f"unknown e-ID event {event!r}")
    eid = MobileEID.objects.select_related("person").filter(pk=eid_id).first()
    if eid is None:
        raise NotFound()
    person = eid.person
    if not person.email:
        logger.warning("no e-mail address for person %s; e-ID %s %s not notified",
                       person.pk, eid.pk, event)
        return False
    with transaction.atomic():
        if AuditEvent.objects.filter(action=audit.EID_NOTIFIED.code, target_id=str(eid.pk),
                                     changes__notification__1=notification_id).exists():
            return False
        with translation.override(settings.LANGUAGE_CODE):
            context = {"person": person, "eid": eid, "portal_url": settings.PORTAL_BASE_URL,
                       "when": timezone.localtime(eid.revoked_at if event == "revoked"
                                                  else eid.created_at)}
            subject = render_to_string(f"emails/eid_{event}_subject.txt", context).strip()
            body = render_to_string(f"emails/eid_{event}.txt", context)
        domain = urlsplit(settings.PORTAL_BASE_URL).hostname or "localhost"
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [person.email],
                     headers={"Message-ID": f"<{notification_id}@{domain}>"}).send()
        record(actor=actor, action=audit.EID_NOTIFIED.code, target=eid, subject=person,
               changes={"event": [None, event], "channel": [None, "e-mail"],
                        "notification": [None, notification_id]})
    return True

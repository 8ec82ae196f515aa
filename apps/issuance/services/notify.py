"""Telling the person about a mobile e-ID through an independent channel (e-mail)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from apps.audit.services import record
from apps.core.calls import service
from apps.core.errors import NotFound
from apps.identities.actors import Actor
from apps.issuance import audit, policies
from apps.issuance.models import MobileEID

logger = logging.getLogger(__name__)

NOTIFY_EVENTS = ("activated", "revoked")


@service
def eid_notify(*, actor: Actor, eid_id: str, event: str) -> bool:
    """E-mail the person that a mobile e-ID was bound to them (`activated`) or `revoked`.

    The independent channel: the address registered for the person, not the device. Only the
    portal's own system actors send it (`policies.require_notify`). Returns False (and audits
    nothing) when the person has no e-mail address. Raises Forbidden for another actor, NotFound
    for an unknown e-ID, ValueError for an unknown event, and the e-mail backend's errors
    (`smtplib.SMTPException`, `OSError`) so the Celery task can retry.
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
    with translation.override(settings.LANGUAGE_CODE):
        context = {"person": person, "eid": eid, "portal_url": settings.PORTAL_BASE_URL,
                   "when": timezone.localtime(eid.revoked_at if event == "revoked"
                                              else eid.created_at)}
        subject = render_to_string(f"emails/eid_{event}_subject.txt", context).strip()
        body = render_to_string(f"emails/eid_{event}.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [person.email])
    with transaction.atomic():
        record(actor=actor, action=audit.EID_NOTIFIED.code, target=eid, subject=person,
               changes={"event": [None, event], "channel": [None, "e-mail"]})
    return True

"""Telling the person about a mobile e-ID through an independent channel (e-mail).

The service that binds or revokes an e-ID publishes an outbox event in its own transaction
(`apps.issuance.events.eid_event_publish`); the outbox delivers it to
`apps.issuance.handlers.eid_owner_notify`, which calls `eid_notify` as the worker. So the e-mail
cannot be lost once the change is committed, even when the broker or the worker is down
(docs/architecture.md, "The outbox").
"""

from __future__ import annotations

import logging

from django.utils import timezone

from apps.core.calls import service
from apps.core.errors import NotFound
from apps.identities.actors import Actor
from apps.issuance import audit, policies
from apps.issuance.events import NOTIFY_EVENTS
from apps.issuance.models import MobileEID
from apps.outbox.mail import notice_send_once

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
    when = eid.revoked_at if event == "revoked" else eid.created_at
    return notice_send_once(
        actor=actor, action=audit.EID_NOTIFIED.code, target=eid, subject=person, to=person.email,
        template=f"eid_{event}", context={"person": person, "eid": eid,
                                          "when": timezone.localtime(when)},
        notification_id=notification_id, changes={"event": [None, event]})

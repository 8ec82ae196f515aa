"""An e-mail notice sent once per outbox event: the shared body of the handlers that tell a person
about a change through an independent channel (`apps.issuance.services.eid_notify`,
`apps.authn.account.account_notify`).

Delivery is at least once outside the database, exactly once inside it (docs/decisions.md, "The
outbox"): the audit row of the notice is written in the same transaction as the send, and a notice
whose audit row exists is not sent again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.template.loader import render_to_string
from django.utils import translation

from apps.audit.models import AuditEvent
from apps.audit.services import record


def notice_send_once(*, actor: Any, action: str, target: models.Model, subject: Any,
                     to: str, template: str, context: Mapping[str, Any],
                     notification_id: str, changes: Mapping[str, list[Any]]) -> bool:
    """E-mail `to` the notice `emails/<template>_subject.txt` and `emails/<template>.txt`
    (rendered in `settings.LANGUAGE_CODE` with `context` and `portal_url`), unless an `action`
    audit event on `target` already names `notification_id` (the outbox event's id); returns
    False then, True when sent.

    Call it inside a public service after its policy (`actor` is that service's actor; `subject`
    the person the notice is about). In one transaction: the check, the send with
    `notification_id` as the Message-ID (RFC 5322 3.6.4, so a copy sent again after a crash
    before the commit is the same message to the mail system) and the `action` audit event with
    `changes` plus the channel and the notification id. Raises the e-mail backend's errors
    (`smtplib.SMTPException`, `OSError`), so that the outbox tries again later."""
    with transaction.atomic():
        if AuditEvent.objects.filter(action=action, target_id=str(target.pk),
                                     changes__notification__1=notification_id).exists():
            return False
        with translation.override(settings.LANGUAGE_CODE):
            values = {**context, "portal_url": settings.PORTAL_BASE_URL}
            title = render_to_string(f"emails/{template}_subject.txt", values).strip()
            body = render_to_string(f"emails/{template}.txt", values)
        domain = urlsplit(settings.PORTAL_BASE_URL).hostname or "localhost"
        EmailMessage(title, body, settings.DEFAULT_FROM_EMAIL, [to],
                     headers={"Message-ID": f"<{notification_id}@{domain}>"}).send()
        record(actor=actor, action=action, target=target, subject=subject,
               changes={**changes, "channel": [None, "e-mail"],
                        "notification": [None, notification_id]})
    return True

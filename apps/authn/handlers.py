"""The authn app's outbox handlers (registered in `AuthnConfig.ready`)."""

from __future__ import annotations

from apps.authn import account
from apps.core.actors import WORKER
from apps.outbox.registry import Event


def account_owner_notify(event: Event) -> None:
    """Handler of `password.changed`, `otp_device.replaced` and `contact.email_changed` (payload
    `{"user_id", "change_id"}`, and `"change_event_id"` for the last): e-mail the person as the
    worker. Idempotent (`account.account_notify`)."""
    account.account_notify(actor=WORKER, topic=event.topic, user_id=event.payload["user_id"],
                           notification_id=str(event.id),
                           change_event_id=event.payload.get("change_event_id", ""))

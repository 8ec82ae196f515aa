"""The issuance app's outbox handlers (registered in `IssuanceConfig.ready`)."""

from __future__ import annotations

from apps.core.actors import WORKER
from apps.issuance import services
from apps.outbox.registry import Event


def eid_owner_notify(event: Event) -> None:
    """Handler of `eid.activated` and `eid.revoked` (payload `{"eid_id", "event"}`): e-mail the
    person as the worker (`apps.core.actors.WORKER`). Idempotent: a redelivered event is
    recognised by its id and not sent again (`services.eid_notify`)."""
    services.eid_notify(actor=WORKER, eid_id=event.payload["eid_id"], event=event.payload["event"],
                        notification_id=str(event.id))

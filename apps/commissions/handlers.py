"""The commissions app's outbox handlers (registered in `CommissionsConfig.ready`)."""

from __future__ import annotations

from apps.commissions import services
from apps.core.actors import WORKER
from apps.outbox.registry import Event


def enrolment_invitation_deliver(event: Event) -> None:
    """Handler of `enrolment.invited` (payload `{"enrolment_id"}`): e-mail the invitation as the
    worker (`apps.core.actors.WORKER`). A redelivery sends a new link and the earlier one stops
    working (`services.enrolment_invitation_send`); an enrolment no longer open is skipped."""
    services.enrolment_invitation_send(actor=WORKER, enrolment_id=event.payload["enrolment_id"],
                                       notification_id=str(event.id))

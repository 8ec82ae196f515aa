"""The outbox events of the issuance app: what happened to an e-ID, for the person's e-mail."""

from __future__ import annotations

from apps.issuance.models import MobileEID
from apps.outbox.services import publish

NOTIFY_EVENTS = ("activated", "revoked")
#: The outbox topics published for those events; `apps.issuance.handlers` handles them.
EID_TOPICS = tuple(f"eid.{event}" for event in NOTIFY_EVENTS)


def eid_event_publish(eid: MobileEID, event: str) -> None:
    """Record in the caller's transaction that `eid` was `activated` or `revoked`, so that the
    person is e-mailed once it commits. The payload holds ids only; the key is the topic and the
    e-ID's id (each happens once per e-ID). Raises ValueError for an unknown event and
    `apps.outbox.services.PublishRefused` outside the calling service's transaction."""
    if event not in NOTIFY_EVENTS:
        raise ValueError(f"unknown e-ID event {event!r}")
    topic = f"eid.{event}"
    publish(topic=topic, payload={"eid_id": str(eid.pk), "event": event}, key=f"{topic}:{eid.pk}")

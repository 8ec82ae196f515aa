"""Who handles which outbox topic: handlers are registered by the apps above the outbox.

An app that reacts to something that happened registers one handler per topic in its
`AppConfig.ready()` (`register("eid.activated", handler)`). The outbox never imports those apps,
so no layer imports upward (docs/architecture.md, "The outbox"). Registering a second handler for a
topic raises at start-up, like the audit action registry.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: `<entity>.<past_verb>`, lower case, like the audit action codes (docs/architecture.md).
TOPIC_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
TOPIC_MAX_LENGTH = 64


@dataclass(frozen=True)
class Event:
    """What a handler receives: the outbox row's `id` (UUID), `topic`, `key` (the idempotency
    key), `payload` (JSON object of ids and primitives), `created_at` (UTC) and `attempt` (1 on
    the first try). A handler uses `id` or `key` to recognise a redelivery of the same event."""

    id: uuid.UUID
    topic: str
    key: str
    payload: Mapping[str, Any]
    created_at: dt.datetime
    attempt: int


#: A handler runs inside the delivery's transaction; raising makes the try fail (retried later).
Handler = Callable[[Event], object]

_HANDLERS: dict[str, Handler] = {}


class DuplicateHandler(Exception):
    """A second handler was registered for a topic."""


class UnknownTopic(LookupError):
    """No handler is registered for the topic (a delivery of it fails and is retried)."""


def check_topic(topic: str) -> str:
    """Return `topic` if it has the `<entity>.<past_verb>` form (at most 64 characters); else
    raise ValueError."""
    if not isinstance(topic, str) or len(topic) > TOPIC_MAX_LENGTH or not TOPIC_PATTERN.fullmatch(topic):
        raise ValueError(f"an outbox topic looks like 'entity.past_verb': {topic!r}")
    return topic


def register(topic: str, handler: Handler) -> None:
    """Make `handler` the one handler of `topic`. Raises DuplicateHandler when the topic already
    has one, ValueError for a malformed topic."""
    check_topic(topic)
    if topic in _HANDLERS:
        raise DuplicateHandler(f"outbox topic {topic!r} already has a handler: {_HANDLERS[topic]!r}")
    _HANDLERS[topic] = handler


def handler_for(topic: str) -> Handler:
    """The handler registered for `topic`; raises UnknownTopic when there is none."""
    try:
        return _HANDLERS[topic]
    except KeyError:
        raise UnknownTopic(f"no handler is registered for outbox topic {topic!r}") from None

"""Handlers are registered per topic by the apps above the outbox; one handler per topic."""

from __future__ import annotations

import pytest

from apps.issuance.handlers import eid_owner_notify
from apps.outbox import registry


def test_the_issuance_app_handles_the_e_id_topics() -> None:
    assert registry.handler_for("eid.activated") is eid_owner_notify
    assert registry.handler_for("eid.revoked") is eid_owner_notify


def test_a_second_handler_for_a_topic_is_refused() -> None:
    with pytest.raises(registry.DuplicateHandler):
        registry.register("eid.activated", print)
    assert registry.handler_for("eid.activated") is eid_owner_notify


@pytest.mark.parametrize("topic", ["", "activated", "Eid.Activated", "eid.", "eid activated",
                                   "eid.activated;drop", "x." + "y" * 64])
def test_a_malformed_topic_is_refused(topic: str) -> None:
    with pytest.raises(ValueError):
        registry.register(topic, print)


def test_an_unknown_topic_has_no_handler() -> None:
    with pytest.raises(registry.UnknownTopic):
        registry.handler_for("nobody.listens")

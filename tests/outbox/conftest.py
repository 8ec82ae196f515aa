"""Fixtures of the outbox tests: a recording handler for the stand-in topic, and a broker that
cannot be reached."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from apps.outbox import registry
from tests.outbox.support import TOPIC
from tests.portal.support import unreachable_broker_url, using_broker


class Recorder:
    """A handler that remembers every event it was given (thread-safe)."""

    def __init__(self) -> None:
        self.events: list[registry.Event] = []
        self.threads: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, event: registry.Event) -> None:
        with self._lock:
            self.events.append(event)
            self.threads.append(threading.current_thread().name)


@pytest.fixture
def handled(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """The stand-in topic's handler for this test: records what it is given."""
    recorder = Recorder()
    monkeypatch.setitem(registry._HANDLERS, TOPIC, recorder)
    return recorder


@pytest.fixture
def broker_down() -> Iterator[str]:
    """Celery's broker is a Redis URL on a port where nothing listens (not eager any more)."""
    with using_broker(unreachable_broker_url()) as url:
        yield url

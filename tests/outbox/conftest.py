"""Fixtures of the outbox tests: a recording handler for the stand-in topic, and a broker that
cannot be reached."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from apps.outbox import registry
from portal.celery import app
from tests.outbox.support import TOPIC


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


def reset_pools() -> None:
    """Drop the Celery app's connection and producer pools so the next send uses the current
    broker setting."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_down() -> Iterator[str]:
    """Celery's broker is a Redis URL on a port where nothing listens (not eager any more)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The port is closed again here: connections to it are refused.
    url = f"redis://127.0.0.1:{port}/0"
    previous: dict[str, Any] = {key: app.conf[key] for key in
                                ("broker_url", "task_always_eager", "broker_transport_options")}
    app.conf.update(broker_url=url, task_always_eager=False, broker_transport_options={})
    reset_pools()
    yield url
    app.conf.update(**previous)
    reset_pools()

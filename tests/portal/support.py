"""Pointing the test process's Celery app at another broker (the tests run Celery eagerly)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from portal.celery import app

_KEYS = ("broker_url", "task_always_eager", "broker_transport_options")


def _reset_pools() -> None:
    """Drop the app's connection and producer pools so the next send uses the current broker."""
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def using_broker(url: str) -> Iterator[str]:
    """Send tasks to the broker at `url` (not eagerly) inside the block; restore after."""
    previous = {key: app.conf[key] for key in _KEYS}
    app.conf.update(broker_url=url, task_always_eager=False, broker_transport_options={})
    _reset_pools()
    try:
        yield url
    finally:
        app.conf.update(**previous)
        _reset_pools()


def unreachable_broker_url() -> str:
    """A Redis URL on a local port where nothing listens, so every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"

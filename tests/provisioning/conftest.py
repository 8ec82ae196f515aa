"""Fixtures of the provisioning tests: a real scim2-server as the downstream system (started per
test on a free port, `tests.integration.scim_target`), a proxy in front of it that injects faults,
and a downstream system registered on it (directly: registering through the administration pages
is tested with those pages)."""

from __future__ import annotations

import datetime as dt
import http.server
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from apps.core.actors import SYSTEM
from apps.identities.models import Person
from apps.organisations.models import Organisation
from apps.provisioning import credentials
from apps.provisioning.models import DownstreamSystem, ProvisioningJob
from tests.integration.conftest import redis_broker, start_celery, var_dir  # noqa: F401
from tests.integration.scim_target import TOKEN, FaultyProxy, ScimTarget, free_port

_keys = itertools.count(1)


@pytest.fixture(autouse=True)
def short_timeouts(settings: Any) -> None:
    """A one-second HTTP timeout, so that the slow-target test is quick."""
    settings.PROVISIONING_HTTP_TIMEOUT_SECONDS = 1.0
    settings.PROVISIONING_RECONCILE_PAGE_SIZE = 3


@pytest.fixture
def target(tmp_path: Path) -> Iterator[ScimTarget]:
    """A running scim2-server with the HSA extension, stopped after the test."""
    server = ScimTarget(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def proxy(target: ScimTarget) -> Iterator[FaultyProxy]:
    """The fault-injecting proxy in front of `target`."""
    faulty = FaultyProxy(target)
    yield faulty
    faulty.close()


@pytest.fixture
def system(tree: dict[str, Organisation], proxy: FaultyProxy) -> DownstreamSystem:
    """A downstream system on the proxy, receiving the region's people with every attribute."""
    return make_system(tree["region"], proxy.url)


#: A base URL nothing listens on, for systems whose pushes a test does not run.
UNUSED_URL = "http://127.0.0.1:9/scim/v2"


def make_system(owner: Organisation, url: str, *, attributes: list[str] | None = None,
                name: str = "Journal", scope: list[Organisation] | None = None,
                state: str = DownstreamSystem.State.ENABLED) -> DownstreamSystem:
    """A downstream system of `owner` at `url` receiving the people of `scope` (default: the
    owner's subtree), as registered in administration, with a bearer token."""
    system = DownstreamSystem.objects.create(
        organisation=owner, name=name, base_url=url, state=state,
        auth_method=DownstreamSystem.AuthMethod.BEARER,
        credentials=credentials.encrypt({"token": TOKEN}),
        attributes=attributes if attributes is not None
        else [choice for choice, _ in DownstreamSystem.ATTRIBUTE_CHOICES],
        created_by_label=SYSTEM.code)
    system.scope.set(scope or [owner])
    return system


def queue(system: DownstreamSystem, person: Person, change: str = "person.changed",
          key: str | None = None) -> ProvisioningJob:
    """A pending job, as the fan-out of a change writes it."""
    return ProvisioningJob.objects.create(system=system, person=person, change=change,
                                          key=key or f"test:{next(_keys)}")


def make_due() -> None:
    """Time passes: every pending job backing off is due now."""
    ProvisioningJob.objects.filter(state=ProvisioningJob.State.PENDING).update(
        available_at=timezone.now() - dt.timedelta(seconds=1))


@pytest.fixture
def systems(tree: dict[str, Organisation]) -> dict[str, DownstreamSystem]:
    """`record`: the region's record system (the whole region); `clinic`: the other care
    provider's system; `directory`: a paused directory of the hospital."""
    return {
        "record": make_system(tree["region"], UNUSED_URL, name="Region record system"),
        "clinic": make_system(tree["other"], UNUSED_URL, name="Clinic system"),
        "directory": make_system(tree["region"], UNUSED_URL, name="Hospital directory",
                                 scope=[tree["hospital"]], state=DownstreamSystem.State.PAUSED),
    }


#: A scripted answer of a `HostileTarget`: status, headers, body.
Answer = tuple[int, dict[str, str], bytes]


class HostileTarget:
    """An HTTP server on 127.0.0.1 answering every request with `self.answer(method, path,
    body)`; `requests` keeps (method, path, headers, body)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v2"
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.answer: Callable[[str, str, bytes], Answer] = lambda m, p, b: (500, {}, b"")
        #: Seconds between two bytes of the body (a slow-loris target); 0 sends it at once.
        self.trickle = 0.0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                status, headers, payload = outer.answer(self.command, self.path, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if not outer.trickle:
                    self.wfile.write(payload)
                    return
                for i in range(len(payload)):
                    self.wfile.write(payload[i:i + 1])
                    self.wfile.flush()
                    time.sleep(outer.trickle)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def scim(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Answer:
    """A SCIM answer of a `HostileTarget`: `status`, `body` as application/scim+json."""
    return status, {"Content-Type": "application/scim+json", **(headers or {})}, json.dumps(
        body).encode()


def created_user(body: bytes, user_id: str, version: str = 'W/"1"') -> dict[str, Any]:
    """The User a target answers to the creation request `body`, with `user_id` and `version`."""
    sent = json.loads(body)
    return {**sent, "id": user_id,
            "meta": {"resourceType": "User", "version": version,
                     "location": f"http://x/v2/Users/{user_id}",
                     "created": "2026-01-01T00:00:00Z", "lastModified": "2026-01-01T00:00:00Z"}}


@pytest.fixture
def hostile() -> Iterator[HostileTarget]:
    """A `HostileTarget`, closed after the test."""
    server = HostileTarget()
    yield server
    server.close()

"""Fixtures of the provisioning tests: a real scim2-server as the downstream system (started per
test on a free port, `tests.integration.scim_target`), a proxy in front of it that injects faults,
and a downstream system registered on it (directly: registering through the administration pages
is tested with those pages)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
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
from tests.integration.scim_target import TOKEN, FaultyProxy, ScimTarget

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


def make_system(owner: Organisation, url: str, *, attributes: list[str] | None = None,
                name: str = "Journal") -> DownstreamSystem:
    system = DownstreamSystem.objects.create(
        organisation=owner, name=name, base_url=url,
        auth_method=DownstreamSystem.AuthMethod.BEARER,
        credentials=credentials.encrypt({"token": TOKEN}),
        attributes=attributes if attributes is not None
        else [choice for choice, _ in DownstreamSystem.ATTRIBUTE_CHOICES],
        created_by_label=SYSTEM.code)
    system.scope.add(owner)
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



"""Helpers of the provisioning administration tests: a registered downstream system and jobs in a
given state, as the push worker would leave them."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.identities.actors import Actor
from apps.identities.models import Person
from apps.organisations.models import Organisation
from apps.provisioning import services
from apps.provisioning.models import DownstreamSystem, ProvisioningJob

#: A bearer token as a downstream system would hand one out (RFC 6750 b64token).
TOKEN = "s3cr3t-Bearer.token_for~tests+/="

_keys = itertools.count(1)


def register(actor: Actor, organisation: Organisation, **overrides: Any) -> DownstreamSystem:
    """Register a bearer-token system of `organisation` receiving its people (`overrides` replace
    the service's arguments)."""
    arguments: dict[str, Any] = {
        "name": "Journal system", "base_url": "https://scim.example.se/scim/v2",
        "auth_method": DownstreamSystem.AuthMethod.BEARER, "credentials_given": {"token": TOKEN},
        "scope": [organisation], "attributes": ["emails", "commissions"]}
    arguments.update(overrides)
    return services.downstream_system_register(actor=actor, organisation=organisation, **arguments)


def job(system: DownstreamSystem, person: Person, state: str = ProvisioningJob.State.FAILED,
        **fields: Any) -> ProvisioningJob:
    """A job of `person` for `system` in `state` (a failed one has tried 5 times and says why)."""
    defaults: dict[str, Any] = {"change": "commission.granted", "attempts": 0}
    if state == ProvisioningJob.State.FAILED:
        defaults.update(attempts=5, last_error="400 invalidValue: userName is required",
                        finished_at=timezone.now())
    if state == ProvisioningJob.State.IN_PROGRESS:
        defaults.update(lease_until=timezone.now() + timedelta(minutes=1),
                        lease_token=uuid.uuid4(), attempts=1)
    if state == ProvisioningJob.State.DONE:
        defaults.update(attempts=1, result="created", finished_at=timezone.now())
    defaults.update(fields)
    return ProvisioningJob.objects.create(system=system, person=person, state=state,
                                          key=f"test-{next(_keys)}", **defaults)

"""Pushing provisioning jobs to downstream systems (docs/provisioning.md, "Reliability").

`push_due()` runs in any number of worker processes at once. Each job goes through three steps:

1. **Claim** (one short transaction): the oldest due job of an enabled system whose person has no
   earlier open job in that system: pending and due, or in progress with a lapsed lease (its
   worker died). Locks, in the provisioning lock order: the system (`FOR SHARE`, so a pause waits
   for claims in flight), the person's `RemoteUser` (created if missing; `SKIP LOCKED`, it is the
   per-person serialisation point), the job (`SKIP LOCKED`). The job becomes `in_progress` with a
   new `lease_token` and `lease_until` = now + `PROVISIONING_LEASE_SECONDS`.
2. **Push** (no transaction, no lock held): the person's whole current state
   (`apps.provisioning.resources`) is compared with the digest of what was last pushed; equal →
   `unchanged`, no request. Else create (POST, RFC 7644 §3.3), or replace (PUT, §3.5.1) when the
   target's id is known; a 409 on create is recovered by a search (§3.4.3) on `externalId`, then
   `userName`, and a replace (`recovered`). With the "groups" attribute the person's membership
   of each system role's Group is patched (§3.5.2).
3. **Finish** (one short transaction, `push_finish`), only while the job still carries the lease
   token of the claim: done with its result, or back to pending after a transient failure
   (network, timeout, 429, 5xx; exponential backoff with jitter, at least `Retry-After`, RFC 9110
   §10.2.3), or failed after a permanent one (any other 4xx) with the target's error.

A later job of a person never runs before an earlier open one (the claim's condition), so pushes
of one person reach the target in the order of their changes. A failed job does not block the
later ones: each push sends the whole current state, so the next one carries everything the failed
one would have; the failed job stays on the status page for an operator (docs/decisions.md).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from pydantic import ValidationError
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_client.errors import RequestNetworkException, SCIMClientException
from scim2_models import PatchOp, SCIMException, SearchRequest

from apps.audit.services import record
from apps.commissions.models import Role, RoleAssignment
from apps.commissions.policies import require_operator
from apps.core.actors import WORKER, SystemActor
from apps.core.calls import service
from apps.identities.models import Person
from apps.outbox.delivery import retry_delay
from apps.provisioning import audit
from apps.provisioning.client import TokenError, forget_token, scim_client
from apps.provisioning.models import DownstreamSystem, ProvisioningJob, RemoteGroup, RemoteUser
from apps.provisioning.resources import UserState, digest, group_resource, user_state
from apps.provisioning.schema import PortalGroup, PortalUser

logger = logging.getLogger(__name__)

Job = ProvisioningJob
OPEN = (Job.State.PENDING, Job.State.IN_PROGRESS)
#: Due jobs read per claim attempt; a worker skips those another one is claiming.
CANDIDATES = 20
#: The schema of a PATCH request (RFC 7644 §3.5.2).
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass(frozen=True)
class Claim:
    """A job claimed by this worker: what the push needs without another read of the job, and
    the `lease_token` that lets only this claim finish it."""

    job_id: int
    system_id: uuid.UUID
    person_id: uuid.UUID
    lease_token: uuid.UUID
    attempts: int
    remote_id: str
    remote_digest: str
    remote_active: bool


@dataclass
class Outcome:
    """What a push did. `kind`: `done` (with `result`), `retry` (transient, after at least
    `retry_after` seconds) or `failed` (permanent, `error` shown). `remote_id`, `digest` and
    `active` describe the target's user after it, when known."""

    kind: Literal["done", "retry", "failed"]
    result: str = ""
    error: str = ""
    retry_after: float = 0.0
    remote_id: str = ""
    version: str = ""
    digest: str = ""
    active: bool = False


@dataclass
class PushReport:
    """What one `push_due` run did: `results` counts finished pushes by result (`created`,
    `updated`, `unchanged`, `deactivated`, `recovered`), `retried` transient failures, `failed`
    permanent ones, `lost` pushes whose lease had passed to another worker."""

    results: Counter[str] = field(default_factory=Counter)
    retried: int = 0
    failed: int = 0
    lost: int = 0

    def as_dict(self) -> dict[str, int]:
        return {**self.results, "retried": self.retried, "failed": self.failed, "lost": self.lost}


class PushFailure(Exception):
    """A push that cannot go on: `transient` (try again later, after `retry_after` seconds) or
    permanent (the target refused the request; `str()` is the error shown). `status` is the
    target's HTTP status, 0 when none came (network, timeout)."""

    def __init__(self, message: str, *, status: int = 0, transient: bool,
                 retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient
        self.retry_after = retry_after


def push_due(*, limit: int | None = None) -> PushReport:
    """Push due jobs one at a time, at most `limit` (default `PROVISIONING_BATCH_SIZE`), until
    none is left for this worker. Safe in any number of processes at once; run it outside any
    transaction (each claim and finish commits on its own). Failures are recorded on the jobs,
    never raised."""
    report = PushReport()
    clients: dict[uuid.UUID, SyncSCIMClient] = {}  # one connection pool per system and run
    try:
        for _ in range(settings.PROVISIONING_BATCH_SIZE if limit is None else limit):
            claim = claim_next()
            if claim is None:
                break
            outcome = push(claim, clients)
            if not push_finish(actor=WORKER, claim=claim, outcome=outcome):
                report.lost += 1
            elif outcome.kind == "done":
                report.results[outcome.result] += 1
            elif outcome.kind == "retry":
                report.retried += 1
            else:
                report.failed += 1
    finally:
        for client in clients.values():
            client.client.close()
    return report


def _due(now: dt.datetime) -> Q:
    return (Q(state=Job.State.PENDING, available_at__lte=now)
            | Q(state=Job.State.IN_PROGRESS, lease_until__lt=now))


def _earlier_open() -> Exists:
    return Exists(Job.objects.filter(system_id=OuterRef("system_id"), person_id=OuterRef("person_id"),
                                     id__lt=OuterRef("id"), state__in=OPEN))


def claim_next() -> Claim | None:
    """Claim the next job this worker may push (module docstring, step 1), or None when none is
    due or every due one is being claimed by another worker."""
    now = timezone.now()
    candidates = list(Job.objects.filter(_due(now), system__state=DownstreamSystem.State.ENABLED)
                      .exclude(_earlier_open()).order_by("available_at", "id")
                      .values_list("id", "system_id", "person_id")[:CANDIDATES])
    for job_id, system_id, person_id in candidates:
        claim = _claim(job_id, system_id, person_id)
        if claim is not None:
            return claim
    return None


def _claim(job_id: int, system_id: uuid.UUID, person_id: uuid.UUID) -> Claim | None:
    skip = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        now = timezone.now()
        if connection.vendor == "postgresql":
            # The system first (lock order); FOR SHARE: claims run side by side, a pause
            # (FOR UPDATE) waits for them and they see it.
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT state FROM {DownstreamSystem._meta.db_table} "
                               "WHERE id = %s FOR SHARE", [system_id])
                row = cursor.fetchone()
            if row is None or row[0] != DownstreamSystem.State.ENABLED:
                return None
        RemoteUser.objects.bulk_create([RemoteUser(system_id=system_id, person_id=person_id)],
                                       ignore_conflicts=True)
        remote = (RemoteUser.objects.select_for_update(skip_locked=skip)
                  .filter(system_id=system_id, person_id=person_id).first())
        if remote is None:
            return None  # another worker holds this person
        job = (Job.objects.select_for_update(skip_locked=skip)
               .filter(_due(now), pk=job_id).exclude(_earlier_open()).first())
        if job is None:
            return None
        job.state, job.lease_token = Job.State.IN_PROGRESS, uuid.uuid4()
        job.lease_until = now + dt.timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)
        job.attempts += 1
        job.save(update_fields=["state", "lease_token", "lease_until", "attempts"])
        return Claim(job_id=job.pk, system_id=system_id, person_id=person_id,
                     lease_token=job.lease_token, attempts=job.attempts,
                     remote_id=remote.remote_id, remote_digest=remote.digest,
                     remote_active=remote.active)


def push(claim: Claim, clients: dict[uuid.UUID, SyncSCIMClient]) -> Outcome:
    """Push the claimed job's person to its system (module docstring, step 2), with the system's
    client from `clients` (made and added when missing; the caller closes them). Never raises for
    what the target or the network does: that is the outcome."""
    system = DownstreamSystem.objects.prefetch_related("scope").get(pk=claim.system_id)
    try:
        state = user_state(system, claim.person_id)
    except Person.DoesNotExist:
        return Outcome("failed", error="the person no longer exists")
    except ValidationError as exc:  # a stored value no SCIM attribute can hold
        logger.exception("provisioning: person %s cannot be sent", claim.person_id)
        return Outcome("failed", error=f"the person's data is no valid SCIM User: {exc}"[:2000])
    wanted = digest(state.resource, state.roles)
    if claim.remote_id and claim.remote_digest == wanted:
        return Outcome("done", "unchanged", remote_id=claim.remote_id, digest=wanted,
                       active=bool(state.resource.active))
    try:
        client = clients.get(system.pk) or clients.setdefault(system.pk, scim_client(system))
    except TokenError as exc:
        return Outcome("retry" if exc.transient else "failed", error=str(exc))
    except InvalidToken:
        return Outcome("failed", error="the stored credentials cannot be decrypted (key missing)")
    try:
        return _send(system, client, claim, state, wanted)
    except PushFailure as exc:
        if exc.status == 401:  # its token is refused: the next push makes a new client
            clients.pop(system.pk).client.close()
        return Outcome("retry" if exc.transient else "failed", error=str(exc),
                       retry_after=exc.retry_after)


def _send(system: DownstreamSystem, client: SyncSCIMClient, claim: Claim, state: UserState,
          wanted: str) -> Outcome:
    resource = state.resource
    active = bool(resource.active)
    remote_id, result, version = claim.remote_id, "", ""
    if not remote_id and not active:
        # Never create a user only to deactivate it; deactivate one an earlier push may have
        # created without us learning its id.
        remote_id = _find(system, client, resource) or ""
        if not remote_id:
            return Outcome("done", "unchanged", digest="", active=False)
        result = "deactivated"
    elif not remote_id:
        try:
            created = scim_call(system, client.create, resource)
            remote_id, version, result = str(created.id), _version(created), "created"
        except PushFailure as exc:
            if exc.status != 409:
                raise
            remote_id = _find(system, client, resource) or ""
            if not remote_id:
                raise PushFailure(f"{exc}; no user with this externalId or userName found",
                                  transient=False) from exc
            result = "recovered"
    if result != "created":
        update = resource.model_copy()
        update.id = remote_id
        try:
            replaced = scim_call(system, client.replace, update)
        except PushFailure as exc:
            if exc.status != 404 or not active:
                raise
            # The target deleted the user: create it again.
            replaced, result = scim_call(system, client.create, resource), "created"
            remote_id = str(replaced.id)
        version = _version(replaced)
        result = result or ("deactivated" if claim.remote_active and not active else "updated")
    if "groups" in system.attributes:
        _sync_groups(system, client, remote_id, set(state.roles))
    return Outcome("done", result, remote_id=remote_id, version=version, digest=wanted,
                   active=active)


def _version(resource: Any) -> str:
    meta = getattr(resource, "meta", None)
    return str(meta.version or "") if meta is not None else ""


def scim_call(system: DownstreamSystem, method: Any, *args: Any, **kwargs: Any) -> Any:
    """`method(*args, **kwargs)` of `system`'s SCIM client, its failures raised as PushFailure
    (transient: network, timeout, 408, 429, 5xx, and 401 with OAuth2; permanent: any other
    status, or an answer that is no SCIM response). A 401 drops the cached
    OAuth2 access token (a new one is fetched on the next try)."""
    try:
        return method(*args, **kwargs)
    except RequestNetworkException as exc:
        cause = exc.__cause__
        raise PushFailure(f"network: {type(cause).__name__ if cause else ''} {cause or exc}",
                          transient=True) from exc
    except (SCIMException, SCIMClientException) as exc:
        response = getattr(exc, "source", None)
        status = _status(exc, response)
        detail = getattr(exc, "detail", None) or str(exc)
        if status == 401:
            forget_token(system)
        transient = status in (408, 429) or status >= 500 or (
            status == 401 and system.auth_method == DownstreamSystem.AuthMethod.CLIENT_CREDENTIALS)
        raise PushFailure(f"{status}: {detail}"[:2000], status=status, transient=transient,
                          retry_after=_retry_after(response)) from exc


def _status(exc: Exception, response: Any) -> int:
    for value in (getattr(exc, "status", None), getattr(response, "status_code", None)):
        try:
            if value is not None and int(value) >= 100:
                return int(value)
        except (TypeError, ValueError):
            continue
    return 0  # an unreadable answer: treated as permanent


def _retry_after(response: Any) -> float:
    """Seconds from a `Retry-After` header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date),
    0 when there is none or it cannot be read."""
    headers = getattr(response, "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return 0.0
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, (when - timezone.now()).total_seconds())


def _find(system: DownstreamSystem, client: SyncSCIMClient, resource: PortalUser) -> str | None:
    """The target's id of the user with the resource's `externalId`, else its `userName`
    (RFC 7644 §3.4.3 search, `eq` filters §3.4.2.2), or None."""
    for attribute, value in (("externalId", resource.external_id), ("userName", resource.user_name)):
        if not value:
            continue
        escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
        found = scim_call(system, client.search, PortalUser,
                            SearchRequest.model_validate({"filter": f'{attribute} eq "{escaped}"',
                                                         "attributes": ["id"], "count": 2}))
        if found.resources:
            return str(found.resources[0].id)
    return None


def _sync_groups(system: DownstreamSystem, client: SyncSCIMClient, remote_id: str,
                 roles: set[str]) -> None:
    """Make the user a member of the Group of each system role they hold, and of no other
    (RFC 7644 §3.5.2.1 add, §3.5.2.2 remove with a value filter). A removal the target answers
    `noTarget` (the user was no member) is done."""
    for role in Role.values:
        group_id = _group_id(system, client, role)
        remove = role not in roles
        operation = ({"op": "remove", "path": f'members[value eq "{remote_id}"]'} if remove
                     else {"op": "add", "path": "members",
                           "value": [{"value": remote_id, "type": "User"}]})
        patch = PatchOp[PortalGroup].model_validate(  # type: ignore[misc]
            {"schemas": [PATCH_OP], "Operations": [operation]})
        try:
            scim_call(system, client.modify, PortalGroup, group_id, patch)
        except PushFailure as exc:
            if exc.status == 404:
                RemoteGroup.objects.filter(system=system, role=role).update(remote_id="")
                raise PushFailure(f"{exc} (the {role} group is gone; created again next time)",
                                  transient=True) from exc
            if not (exc.status == 400 and remove):
                raise


def _group_id(system: DownstreamSystem, client: SyncSCIMClient, role: str) -> str:
    """The target's id of `role`'s Group: stored, else created with the users already pushed
    active who hold the role now (a 409 recovered by a search on `externalId`, then
    `displayName`) and stored."""
    known = RemoteGroup.objects.filter(system=system, role=role).exclude(remote_id="").first()
    if known is not None:
        return known.remote_id
    now = timezone.now()
    holders = (RemoteUser.objects.filter(system=system, active=True).exclude(remote_id="")
               .filter(person_id__in=RoleAssignment.objects.active_at(now).filter(role=role)
                       .values("person_id"))
               .values_list("remote_id", flat=True))
    try:
        group_id = str(scim_call(system, client.create, group_resource(role, holders)).id)
    except PushFailure as exc:
        if exc.status != 409:
            raise
        group_id = ""
        for attribute in ("externalId", "displayName"):
            found = scim_call(system, client.search, PortalGroup,
                                SearchRequest.model_validate({"filter": f'{attribute} eq "{role}"',
                                                            "attributes": ["id"]}))
            if found.resources:
                group_id = str(found.resources[0].id)
                break
        if not group_id:
            raise
    with transaction.atomic():
        RemoteGroup.objects.bulk_create([RemoteGroup(system=system, role=role)],
                                        ignore_conflicts=True)
        RemoteGroup.objects.filter(system=system, role=role).update(remote_id=group_id)
    return group_id


@service
def push_finish(*, actor: SystemActor, claim: Claim, outcome: Outcome) -> bool:
    """Record what the push of `claim` did (module docstring, step 3), as the worker; returns
    False, changing nothing, when the job no longer carries the claim's lease token (the lease
    lapsed and another worker took the job over: its finish counts).

    - done: the job is `done` with `outcome.result`; the person's `RemoteUser` keeps the target's
      id, version, digest and active flag; audited `provisioning_job.pushed`;
    - retry: the job is pending again, due after `retry_delay(attempts)` seconds (exponential
      backoff with jitter, `apps.outbox.delivery.retry_delay`) or `Retry-After` if later, with
      `last_error`; not audited (logged): it is not finished;
    - failed: the job is `failed` with `last_error`; audited `provisioning_job.failed` (outcome
      failure).

    Locks the `RemoteUser`, then the job (the provisioning lock order). Raises Forbidden for an
    actor other than the portal's own.
    """
    require_operator(actor)
    now = timezone.now()
    with transaction.atomic():
        remote = RemoteUser.objects.select_for_update().get(system_id=claim.system_id,
                                                            person_id=claim.person_id)
        job = (Job.objects.select_for_update().select_related("system", "person")
               .filter(pk=claim.job_id, state=Job.State.IN_PROGRESS,
                       lease_token=claim.lease_token).first())
        if job is None:
            logger.warning("provisioning: job %s was taken over by another worker; its push "
                           "is not recorded here", claim.job_id)
            return False
        if outcome.remote_id:
            remote.remote_id = outcome.remote_id
            remote.version = outcome.version or remote.version
        if outcome.kind == "done":
            remote.digest, remote.active, remote.pushed_at = outcome.digest, outcome.active, now
        remote.save(update_fields=["remote_id", "version", "digest", "active", "pushed_at"])
        job.lease_token, job.lease_until = None, None
        job.last_error = outcome.error[:2000]
        if outcome.kind == "retry":
            job.state = Job.State.PENDING
            delay = max(retry_delay(job.attempts), outcome.retry_after)
            job.available_at = now + dt.timedelta(seconds=delay)
            job.save(update_fields=["state", "lease_token", "lease_until", "last_error",
                                    "available_at"])
            logger.warning("provisioning: job %s (%s) failed on try %d, next try at %s: %s",
                           job.pk, job.system, job.attempts, job.available_at.isoformat(),
                           job.last_error)
            return True
        job.state = Job.State.DONE if outcome.kind == "done" else Job.State.FAILED
        job.result, job.finished_at = outcome.result, now
        job.save(update_fields=["state", "lease_token", "lease_until", "last_error", "result",
                                "finished_at"])
        if outcome.kind == "done":
            record(actor=actor, action=audit.JOB_PUSHED.code, target=job, subject=job.person,
                   organisation=job.system.organisation,
                   changes={"system": [None, job.system.name], "result": [None, job.result],
                            "change": [None, job.change]})
        else:
            record(actor=actor, action=audit.JOB_FAILED.code, target=job, subject=job.person,
                   organisation=job.system.organisation, outcome="failure",
                   changes={"system": [None, job.system.name], "error": [None, job.last_error]})
        return True

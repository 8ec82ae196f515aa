"""Pushing provisioning jobs to downstream systems (docs/provisioning.md, "Reliability").

`push_due()` runs in any number of worker processes at once. Jobs go in batches of up to
`CLAIM_SIZE`, each through three steps:

1. **Claim** (one short transaction, `claim_due`): the oldest due jobs of enabled systems whose
   person has no earlier open job in that system: pending and due, or in progress with a lapsed
   lease (its worker died); one job per person and system. Locks, in the provisioning lock
   order: the systems (`FOR SHARE`, so a pause waits for claims in flight), the people's
   `RemoteUser` rows (created if missing; `SKIP LOCKED`, they are the per-person serialisation
   point), the jobs (`SKIP LOCKED`). The jobs become `in_progress` with one new `lease_token`
   and `lease_until` = now + `PROVISIONING_LEASE_SECONDS`.
2. **Push** (no transaction, no lock held, `push`): the people's whole current states
   (`apps.provisioning.resources.user_states`, a constant number of reads per system) are
   compared with the digests of what was last pushed; equal → `unchanged`, no request. Else
   create (POST, RFC 7644 §3.3), or replace (PUT, §3.5.1) when the target's id is known; a 409
   on create is recovered by a search (§3.4.3) on `externalId`, then `userName`, and a replace
   (`recovered`). With the "groups" attribute the person's membership of a system role's Group
   is patched (§3.5.2) when it changed since the last push. When the target announces bulk
   support in its ServiceProviderConfig (RFC 7643 §5) and more than one request is to be made,
   they go as bulk requests (RFC 7644 §3.7) of at most its `maxOperations` and
   `maxPayloadSize`; each operation's result is that job's (`_bulk_outcome`).
3. **Finish** (one short transaction, `push_finish`), only for the jobs still carrying the
   lease token of the claim: done with its result, or back to pending after a transient
   failure (network, timeout, 429, 5xx; exponential backoff with jitter, at least
   `Retry-After`, RFC 9110 §10.2.3), or failed after a permanent one (any other 4xx) with the
   target's error; one audit event per finished job.

A later job of a person never runs before an earlier open one (the claim's condition), so pushes
of one person reach the target in the order of their changes. A failed job does not block the
later ones: each push sends the whole current state, so the next one carries everything the failed
one would have; the failed job stays on the status page for an operator (docs/decisions.md).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from pydantic import ValidationError
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_client.errors import RequestNetworkException, SCIMClientException
from scim2_models import Bulk, Context, PatchOp, SCIMException, SearchRequest, ServiceProviderConfig

from apps.audit.services import record
from apps.commissions.models import Role, RoleAssignment
from apps.commissions.policies import require_operator
from apps.core.actors import WORKER, SystemActor
from apps.core.calls import service
from apps.outbox.delivery import retry_delay
from apps.provisioning import audit
from apps.provisioning.client import TokenError, forget_token, scim_client
from apps.provisioning.models import DownstreamSystem, ProvisioningJob, RemoteGroup, RemoteUser
from apps.provisioning.resources import UserState, digest, group_resource, user_states
from apps.provisioning.schema import PortalGroup, PortalUser

logger = logging.getLogger(__name__)

Job = ProvisioningJob
OPEN = (Job.State.PENDING, Job.State.IN_PROGRESS)
#: Longest target id or version kept (`RemoteUser.remote_id`, `.version`).
REMOTE_MAX = RemoteUser._meta.get_field("remote_id").max_length or 200
#: Jobs claimed, built and finished together (one transaction each way).
CLAIM_SIZE = 50
#: The schema of a PATCH request (RFC 7644 §3.5.2).
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#: The schema of a bulk request (RFC 7644 §3.7).
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
#: Bytes left free below the target's `maxPayloadSize` for the bulk request's envelope.
BULK_ENVELOPE = 1024


@dataclass(frozen=True)
class Claim:
    """A job claimed by this worker: what the push needs without another read of the job, and
    the `lease_token` that lets only this claim finish it. `remote_groups` are the roles whose
    Groups the user was last made a member of, None when unknown (`RemoteUser.groups`)."""

    job_id: int
    system_id: uuid.UUID
    person_id: uuid.UUID
    lease_token: uuid.UUID
    attempts: int
    remote_id: str
    remote_digest: str
    remote_active: bool
    remote_groups: tuple[str, ...] | None = None


@dataclass
class Outcome:
    """What a push did. `kind`: `done` (with `result`), `retry` (transient, after at least
    `retry_after` seconds) or `failed` (permanent, `error` shown). `remote_id`, `digest`,
    `active` and `groups` (the roles whose Groups it is a member of) describe the target's user
    after it, when known."""

    kind: Literal["done", "retry", "failed"]
    result: str = ""
    error: str = ""
    retry_after: float = 0.0
    remote_id: str = ""
    version: str = ""
    digest: str = ""
    active: bool = False
    groups: list[str] | None = None


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

    def outcome(self, **known: Any) -> Outcome:
        """The job's outcome after this failure, with what is `known` of the target's user."""
        return Outcome("retry" if self.transient else "failed", error=str(self),
                       retry_after=self.retry_after, **known)


@dataclass
class Target:
    """A system's SCIM client for one `push_due` run and the bulk capabilities its target
    announces (`bulk`, None when it announces none: one request per operation)."""

    client: SyncSCIMClient
    bulk: Bulk | None

    def close(self) -> None:
        self.client.client.close()


@dataclass
class Item:
    """One claimed job being pushed: its person's `state`, the `wanted` digest, and what the
    target holds so far (`remote_id`, `version`, `result` of the user's request)."""

    claim: Claim
    state: UserState
    wanted: str
    remote_id: str = ""
    version: str = ""
    result: str = ""


def push_due(*, limit: int | None = None) -> PushReport:
    """Push due jobs in batches of up to `CLAIM_SIZE`, at most `limit` in all (default
    `PROVISIONING_BATCH_SIZE`), until none is left for this worker. Safe in any number of
    processes at once; run it outside any transaction (each claim and finish commits on its
    own). Failures are recorded on the jobs, never raised."""
    report = PushReport()
    targets: dict[uuid.UUID, Target] = {}  # one connection pool per system and run
    budget = settings.PROVISIONING_BATCH_SIZE if limit is None else limit
    try:
        while budget > 0:
            claims = claim_due(limit=min(budget, CLAIM_SIZE))
            if not claims:
                break
            budget -= len(claims)
            outcomes = push(claims, targets)
            finished = push_finish(actor=WORKER, claims=claims, outcomes=outcomes)
            for done, outcome in zip(finished, outcomes, strict=True):
                if not done:
                    report.lost += 1
                elif outcome.kind == "done":
                    report.results[outcome.result] += 1
                elif outcome.kind == "retry":
                    report.retried += 1
                else:
                    report.failed += 1
    finally:
        for target in targets.values():
            target.close()
    return report


def _due(now: dt.datetime) -> Q:
    return (Q(state=Job.State.PENDING, available_at__lte=now)
            | Q(state=Job.State.IN_PROGRESS, lease_until__lt=now))


def _earlier_open() -> Q:
    """Jobs that must wait: an earlier job of the same person and system is open, or any other
    one (a retried earlier job, too) is being pushed under a live lease: one push per person and
    system at a time (docs/provisioning.md, "Order per person")."""
    same = Job.objects.filter(system_id=OuterRef("system_id"), person_id=OuterRef("person_id"))
    return Q(Exists(same.filter(id__lt=OuterRef("id"), state__in=OPEN))) | Q(Exists(
        same.exclude(id=OuterRef("id")).filter(state=Job.State.IN_PROGRESS,
                                                lease_until__gte=timezone.now())))


def _pairs(pairs: set[tuple[uuid.UUID, uuid.UUID]]) -> Q:
    """Rows of these (system, person) pairs: one condition per system."""
    people: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for system_id, person_id in pairs:
        people[system_id].append(person_id)
    condition = Q(pk__in=[])
    for system_id, person_ids in people.items():
        condition |= Q(system_id=system_id, person_id__in=person_ids)
    return condition


def claim_due(*, limit: int = CLAIM_SIZE) -> list[Claim]:
    """Claim up to `limit` due jobs this worker may push, one per person and system (module
    docstring, step 1), in one transaction of 6 statements; an empty list when none is due or
    every due one is being claimed by another worker. The candidates are twice `limit` of the
    oldest, so that a worker skipping those another one is claiming still finds work."""
    skip = connection.features.has_select_for_update_skip_locked
    now = timezone.now()
    candidates = list(Job.objects.filter(_due(now), system__state=DownstreamSystem.State.ENABLED)
                      .exclude(_earlier_open()).order_by("available_at", "id")
                      .values_list("id", "system_id", "person_id")[:2 * limit])
    if not candidates:
        return []
    with transaction.atomic():
        now = timezone.now()
        systems = sorted({system_id for _, system_id, _ in candidates})
        if connection.vendor == "postgresql":
            # The systems first (lock order); FOR SHARE: claims run side by side, a pause
            # (FOR UPDATE) waits for them and they see it.
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT id FROM {DownstreamSystem._meta.db_table} "
                               "WHERE id = ANY(%s) AND state = %s ORDER BY id FOR SHARE",
                               [systems, DownstreamSystem.State.ENABLED])
                enabled = {row[0] for row in cursor.fetchall()}
        else:
            enabled = set(DownstreamSystem.objects.filter(
                pk__in=systems, state=DownstreamSystem.State.ENABLED).values_list("pk", flat=True))
        pairs = sorted({(s, p) for _, s, p in candidates if s in enabled})
        if not pairs:
            return []
        # In (system, person) order, so that two claims inserting the same rows never wait
        # for each other in a cycle.
        RemoteUser.objects.bulk_create([RemoteUser(system_id=s, person_id=p) for s, p in pairs],
                                       ignore_conflicts=True)
        remotes = {(r.system_id, r.person_id): r for r in
                   RemoteUser.objects.select_for_update(skip_locked=skip).filter(_pairs(set(pairs)))}
        wanted = [job_id for job_id, s, p in candidates if (s, p) in remotes]
        jobs = list(Job.objects.select_for_update(skip_locked=skip)
                    .filter(_due(now), pk__in=wanted).exclude(_earlier_open())
                    .order_by("available_at", "id")[:limit])
        if not jobs:
            return []
        token = uuid.uuid4()
        Job.objects.filter(pk__in=[job.pk for job in jobs]).update(
            state=Job.State.IN_PROGRESS, lease_token=token, attempts=F("attempts") + 1,
            lease_until=now + dt.timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS))
        claims = []
        for job in jobs:
            remote = remotes[(job.system_id, job.person_id)]
            claims.append(Claim(
                job_id=job.pk, system_id=job.system_id, person_id=job.person_id,
                lease_token=token, attempts=job.attempts + 1, remote_id=remote.remote_id,
                remote_digest=remote.digest, remote_active=remote.active,
                remote_groups=None if remote.groups is None else tuple(remote.groups)))
        return claims


def push(claims: list[Claim], targets: dict[uuid.UUID, Target]) -> list[Outcome]:
    """Push the claimed jobs' people to their systems (module docstring, step 2), with each
    system's `Target` from `targets` (made and added when missing; the caller closes them).
    Returns one outcome per claim, in order. Never raises for what the target or the network
    does: that is the outcome."""
    outcomes: dict[int, Outcome] = {}
    by_system: dict[uuid.UUID, list[Claim]] = defaultdict(list)
    for claim in claims:
        by_system[claim.system_id].append(claim)
    for system_id, mine in by_system.items():
        try:
            system = DownstreamSystem.objects.prefetch_related("scope").get(pk=system_id)
            outcomes.update(_push_system(system, mine, targets))
        except Exception as exc:  # never leave the jobs in progress nor stop the worker
            logger.exception("provisioning: pushing to system %s failed unexpectedly", system_id)
            for claim in mine:
                outcomes.setdefault(claim.job_id, Outcome(
                    "failed", error=f"unexpected error: {exc!r}"[:2000]))
    return [_storable(outcomes[claim.job_id]) for claim in claims]


def _storable(outcome: Outcome) -> Outcome:
    """`outcome`, or a permanent failure when the target's id or version is longer than
    `REMOTE_MAX` (RFC 7643 §3.1 sets no bound; the columns do): keeping no id would make every
    retry create the user again."""
    if len(outcome.remote_id) <= REMOTE_MAX and len(outcome.version) <= REMOTE_MAX:
        return outcome
    return Outcome("failed", error=f"the target's user id or version is longer than "
                                   f"{REMOTE_MAX} characters")


def _states(system: DownstreamSystem, claims: list[Claim]) -> dict[uuid.UUID, UserState | Outcome]:
    """Each claimed person's state, or the failed outcome of one that cannot be sent. The people
    are read together; only when one of them holds a value no SCIM attribute can hold are they
    read one at a time, to fail that one alone."""
    ids = [claim.person_id for claim in claims]
    try:
        states: dict[uuid.UUID, UserState | Outcome] = {
            state.person_id: state for state in user_states(system, ids)}
    except ValidationError:
        states = {}
        for person_id in ids:
            try:
                states.update({state.person_id: state for state in user_states(system, [person_id])})
            except ValidationError as exc:
                logger.exception("provisioning: person %s cannot be sent", person_id)
                states[person_id] = Outcome(
                    "failed", error=f"the person's data is no valid SCIM User: {exc}"[:2000])
    for person_id in ids:
        states.setdefault(person_id, Outcome("failed", error="the person no longer exists"))
    return states


def _push_system(system: DownstreamSystem, claims: list[Claim],
                 targets: dict[uuid.UUID, Target]) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    items: list[Item] = []
    states = _states(system, claims)
    for claim in claims:
        state = states[claim.person_id]
        if isinstance(state, Outcome):
            outcomes[claim.job_id] = state
            continue
        wanted = digest(state.resource, state.roles)
        if claim.remote_id and claim.remote_digest == wanted:
            outcomes[claim.job_id] = Outcome(
                "done", "unchanged", remote_id=claim.remote_id, digest=wanted,
                active=bool(state.resource.active),
                groups=None if claim.remote_groups is None else list(claim.remote_groups))
        else:
            items.append(Item(claim, state, wanted))
    if not items:
        return outcomes
    try:
        target = targets.get(system.pk) or targets.setdefault(system.pk, _connect(system))
    except TokenError as exc:
        failed = Outcome("retry" if exc.transient else "failed", error=str(exc))
        return outcomes | {item.claim.job_id: replace(failed) for item in items}
    except InvalidToken:
        failed = Outcome("failed", error="the stored credentials cannot be decrypted (key missing)")
        return outcomes | {item.claim.job_id: replace(failed) for item in items}
    except PushFailure as exc:
        return outcomes | {item.claim.job_id: exc.outcome() for item in items}
    if target.bulk is not None and len(items) > 1:
        outcomes |= _push_bulk(system, target, items)
    else:
        outcomes |= _push_one_by_one(system, target, items, targets)
    return outcomes


def _connect(system: DownstreamSystem) -> Target:
    """A `Target` for `system`: its SCIM client and the bulk capabilities its
    ServiceProviderConfig announces (RFC 7643 §5; RFC 7644 §3.7). A target that answers no
    configuration (a 4xx other than 401) is sent one request per operation. Raises TokenError,
    InvalidToken, and PushFailure for a transient failure or a 401."""
    client = scim_client(system)
    try:
        config = scim_call(system, client.query, ServiceProviderConfig)
    except PushFailure as exc:
        if exc.transient or exc.status == 401:
            client.client.close()
            raise
        config = None
    bulk = getattr(config, "bulk", None)
    usable = bulk is not None and bulk.supported and (bulk.max_operations or 0) > 1
    return Target(client, bulk if usable else None)


def _push_one_by_one(system: DownstreamSystem, target: Target, items: list[Item],
                     targets: dict[uuid.UUID, Target]) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    refused: PushFailure | None = None
    for item in items:
        if refused is not None:  # the target refused the credentials: so it would again
            outcomes[item.claim.job_id] = refused.outcome()
            continue
        try:
            outcomes[item.claim.job_id] = _send(system, target.client, item)
        except PushFailure as exc:
            outcomes[item.claim.job_id] = exc.outcome(remote_id=item.remote_id)
            if exc.status == 401:  # its token is refused: the next run makes a new client
                targets.pop(system.pk).close()
                refused = exc
    return outcomes


def _send(system: DownstreamSystem, client: SyncSCIMClient, item: Item) -> Outcome:
    """One job by single requests (create or replace, recover, the Group memberships). Raises
    PushFailure (`item.remote_id` keeps the target's id once known)."""
    claim, resource = item.claim, item.state.resource
    active = bool(resource.active)
    remote_id, result, version = claim.remote_id, "", ""
    item.remote_id = remote_id
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
    item.remote_id = remote_id
    if result != "created":
        update = resource.model_copy()
        update.id = remote_id
        try:
            replaced = scim_call(system, client.replace, update)
        except PushFailure as exc:
            if exc.status != 404 or not active:
                raise
            # The target deleted the user: create it again (a 409 there is recovered as on
            # a first create: the user is found by externalId, then userName, and replaced).
            try:
                replaced, result = scim_call(system, client.create, resource), "created"
                remote_id = item.remote_id = str(replaced.id)
            except PushFailure as again:
                if again.status != 409:
                    raise
                remote_id = item.remote_id = _find(system, client, resource) or ""
                if not remote_id:
                    raise PushFailure(f"{again}; no user with this externalId or userName found",
                                      transient=False) from again
                update.id = remote_id
                replaced, result = scim_call(system, client.replace, update), "recovered"
        version = _version(replaced)
        result = result or ("deactivated" if claim.remote_active and not active else "updated")
    if "groups" in system.attributes:
        before = _groups_before(claim, result, bool(claim.remote_id))
        for role, operation in _membership(remote_id, set(item.state.roles), before):
            _patch_group(system, client, role, operation)
    return Outcome("done", result, remote_id=remote_id, version=version, digest=item.wanted,
                   active=active, groups=sorted(item.state.roles))


def _groups_before(claim: Claim, result: str, known: bool) -> set[str] | None:
    """The roles whose Groups the user is a member of before this push's memberships: none for
    a user just created, what was last sent for one whose id was known, else unknown (None)."""
    if result == "created":
        return set()
    if known and claim.remote_groups is not None:
        return set(claim.remote_groups)
    return None


def _membership(remote_id: str, roles: set[str],
                before: set[str] | None) -> list[tuple[str, dict[str, Any]]]:
    """(role, PATCH operation) for each Group whose membership of the user changes: `add` to
    `members` for a role held now and not before, `remove` with `members[value eq "<id>"]` for
    one held before and not now (RFC 7644 §3.5.2.1, §3.5.2.2); every role when `before` is
    unknown (None)."""
    changes = []
    for role in Role.values:
        held, was = role in roles, (role in before if before is not None else None)
        if held and was is not True:
            changes.append((role, {"op": "add", "path": "members",
                                   "value": [{"value": remote_id, "type": "User"}]}))
        elif not held and was is not False:
            changes.append((role, {"op": "remove", "path": f'members[value eq "{remote_id}"]'}))
    return changes


def _patch_group(system: DownstreamSystem, client: SyncSCIMClient, role: str,
                 operation: dict[str, Any]) -> None:
    """Apply one membership `operation` to `role`'s Group. A removal the target answers 400
    (`noTarget`: the user was no member) is done; a Group gone (404, e.g. a target restarted
    empty) is created again and patched in the same attempt; gone again, the push is retried
    later (transient)."""
    patch = PatchOp[PortalGroup].model_validate(  # type: ignore[misc]
        {"schemas": [PATCH_OP], "Operations": [operation]})
    for last in (False, True):
        group_id = _group_id(system, client, role)
        try:
            scim_call(system, client.modify, PortalGroup, group_id, patch)
            return
        except PushFailure as exc:
            if exc.status == 404:
                RemoteGroup.objects.filter(system=system, role=role).update(remote_id="")
                if last:
                    raise PushFailure(f"{exc} (the {role} group is gone; created again next "
                                      "time)", transient=True) from exc
                continue
            if not (exc.status == 400 and operation["op"] == "remove"):
                raise
            return


# ---- bulk requests (RFC 7644 §3.7) ------------------------------------------------------------

def _push_bulk(system: DownstreamSystem, target: Target, items: list[Item]) -> dict[int, Outcome]:
    """The items' users, then their changed Group memberships, each as bulk requests. An item
    whose operation needs a follow-up (a 409 on create, a 404 on replace, someone inactive
    never sent) goes on by single requests (`_send`)."""
    outcomes: dict[int, Outcome] = {}
    operations: dict[str, dict[str, Any]] = {}
    by_key: dict[str, Item] = {}
    single: list[Item] = []
    for item in items:
        claim, resource = item.claim, item.state.resource
        key = f"job{claim.job_id}"
        if claim.remote_id:
            update = resource.model_copy()
            update.id = claim.remote_id
            operations[key] = {"method": "PUT", "path": f"/Users/{claim.remote_id}", "bulkId": key,
                               "data": update.model_dump(
                                   scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)}
        elif resource.active:
            operations[key] = {"method": "POST", "path": "/Users", "bulkId": key,
                               "data": resource.model_dump(
                                   scim_ctx=Context.RESOURCE_CREATION_REQUEST)}
        else:
            single.append(item)
            continue
        by_key[key] = item
    members: list[Item] = []
    for key, answer in _bulk(system, target, operations).items():
        item = by_key[key]
        if isinstance(answer, PushFailure):
            if answer.transient:
                outcomes[item.claim.job_id] = answer.outcome()
            else:  # the target refused the whole request: each job on its own finds out why
                single.append(item)
            continue
        status, location, version, detail = answer
        if status in (200, 201):
            item.remote_id = item.claim.remote_id or location.rstrip("/").rsplit("/", 1)[-1]
            item.version = version
            item.result = "created" if status == 201 else (
                "deactivated" if item.claim.remote_active and not item.state.resource.active
                else "updated")
            members.append(item)
        elif (status, operations[key]["method"]) in ((409, "POST"), (404, "PUT")):
            single.append(item)  # recovered, or created again, by single requests
        else:
            outcomes[item.claim.job_id] = _bulk_failure(status, detail).outcome(
                remote_id=item.claim.remote_id)
    outcomes |= _members_bulk(system, target, members)
    for item in single:
        try:
            outcomes[item.claim.job_id] = _send(system, target.client, item)
        except PushFailure as exc:
            outcomes[item.claim.job_id] = exc.outcome(remote_id=item.remote_id)
    return outcomes


def _members_bulk(system: DownstreamSystem, target: Target,
                  items: list[Item]) -> dict[int, Outcome]:
    """The changed Group memberships of the items whose users were sent, as bulk requests; each
    item's outcome (done when all of its operations succeeded)."""
    outcomes: dict[int, Outcome] = {}
    operations: dict[str, dict[str, Any]] = {}
    owner: dict[str, tuple[Item, str, str]] = {}
    failures: dict[int, PushFailure] = {}
    for item in items:
        if "groups" not in system.attributes:
            continue
        before = _groups_before(item.claim, item.result, bool(item.claim.remote_id))
        for role, operation in _membership(item.remote_id, set(item.state.roles), before):
            try:
                group_id = _group_id(system, target.client, role)
            except PushFailure as exc:
                failures[item.claim.job_id] = exc
                break
            key = f"job{item.claim.job_id}-{role}"
            operations[key] = {"method": "PATCH", "path": f"/Groups/{group_id}", "bulkId": key,
                               "data": {"schemas": [PATCH_OP], "Operations": [operation]}}
            owner[key] = (item, role, operation["op"])
    for key, answer in _bulk(system, target, operations).items():
        item, role, op = owner[key]
        if isinstance(answer, PushFailure):
            failures.setdefault(item.claim.job_id, answer)
            continue
        status, _, _, detail = answer
        if status < 300 or (status == 400 and op == "remove"):
            continue  # a removal answered noTarget: the user was no member
        if status == 404:
            RemoteGroup.objects.filter(system=system, role=role).update(remote_id="")
            failures.setdefault(item.claim.job_id, PushFailure(
                f"404: {detail} (the {role} group is gone; created again next time)",
                status=404, transient=True))
        else:
            failures.setdefault(item.claim.job_id, _bulk_failure(status, detail))
    for item in items:
        failure = failures.get(item.claim.job_id)
        outcomes[item.claim.job_id] = (
            failure.outcome(remote_id=item.remote_id, version=item.version) if failure
            else Outcome("done", item.result, remote_id=item.remote_id, version=item.version,
                         digest=item.wanted, active=bool(item.state.resource.active),
                         groups=sorted(item.state.roles)))
    return outcomes


Answer = tuple[int, str, str, str]


def _bulk(system: DownstreamSystem, target: Target,
          operations: dict[str, dict[str, Any]]) -> dict[str, Answer | PushFailure]:
    """Send `operations` (by bulkId) in bulk requests within the target's `maxOperations` and
    `maxPayloadSize` (RFC 7644 §3.7.4); returns, by bulkId, each operation's (status, location,
    version, error detail), or the PushFailure of the request that carried it. An operation the
    response leaves out (the target stopped early) is a transient failure."""
    answers: dict[str, Answer | PushFailure] = {}
    for chunk in _chunks(operations, target.bulk):
        try:
            response = scim_call(system, target.client.bulk,
                                 {"schemas": [BULK_REQUEST], "Operations": chunk},
                                 check_request_payload=False)
        except PushFailure as exc:
            answers |= {operation["bulkId"]: exc for operation in chunk}
            continue
        for result in response.operations or []:
            if result.bulk_id in operations:
                error = result.response
                answers[result.bulk_id] = (
                    int(result.status or 0), str(result.location or ""),
                    str(result.version or ""),
                    str(getattr(error, "detail", None) or getattr(error, "scim_type", None) or ""))
    missing = PushFailure("the target's bulk response has no result for this operation",
                          transient=True)
    return {key: answers.get(key, missing) for key in operations}


def _chunks(operations: dict[str, dict[str, Any]],
            bulk: Bulk | None) -> Iterator[list[dict[str, Any]]]:
    """`operations` in lists of at most `maxOperations` whose JSON fits in `maxPayloadSize`
    (less `BULK_ENVELOPE`)."""
    most = (bulk.max_operations if bulk else None) or 1
    room = ((bulk.max_payload_size if bulk else None) or 2**31) - BULK_ENVELOPE
    chunk: list[dict[str, Any]] = []
    size = 0
    for operation in operations.values():
        length = len(json.dumps(operation, default=str)) + 1
        if chunk and (len(chunk) >= most or size + length > room):
            yield chunk
            chunk, size = [], 0
        chunk.append(operation)
        size += length
    if chunk:
        yield chunk


def _bulk_failure(status: int, detail: str) -> PushFailure:
    """The failure of one bulk operation answered `status`: transient for 408, 429 and 5xx,
    else permanent (RFC 7644 §3.7.3: each operation has the status a single request would)."""
    return PushFailure(f"{status}: {detail}"[:2000], status=status,
                       transient=status in (408, 429) or status >= 500 or status == 0)


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
    """Seconds from a `Retry-After` header (RFC 9110 §10.2.3: delay-seconds as ASCII digits, or
    an HTTP-date), at most `OUTBOX_RETRY_MAX_SECONDS` (a target cannot pin a person's changes
    for years); 0 when there is none or it cannot be read."""
    headers = getattr(response, "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return 0.0
    value = value.strip()
    cap = float(settings.OUTBOX_RETRY_MAX_SECONDS)
    if value.isascii() and value.isdigit():
        return min(float(value[:12]), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
        seconds = (when - timezone.now()).total_seconds()
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return min(max(0.0, seconds), cap)


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
def push_finish(*, actor: SystemActor, claims: list[Claim], outcomes: list[Outcome]) -> list[bool]:
    """Record what the pushes of `claims` did (`outcomes`, in the same order; module docstring,
    step 3), as the worker, in one transaction; returns per claim whether it was recorded: False,
    changing nothing, for a job that no longer carries the claim's lease token (the lease lapsed
    and another worker took the job over: its finish counts).

    - done: the job is `done` with `outcome.result`; the person's `RemoteUser` keeps the target's
      id, version, digest, active flag and Group memberships; audited `provisioning_job.pushed`;
    - retry: the job is pending again, due after `retry_delay(attempts)` seconds (exponential
      backoff with jitter, `apps.outbox.delivery.retry_delay`) or `Retry-After` if later, with
      `last_error`; not audited (logged): it is not finished;
    - failed: the job is `failed` with `last_error`; audited `provisioning_job.failed` (outcome
      failure).

    One audit event per finished job. Locks the `RemoteUser` rows in (system, person) order,
    then the jobs in id order (the provisioning lock order). Raises Forbidden for an actor other
    than the portal's own.
    """
    require_operator(actor)
    now = timezone.now()
    with transaction.atomic():
        pairs = {(claim.system_id, claim.person_id) for claim in claims}
        remotes = {(r.system_id, r.person_id): r for r in RemoteUser.objects.select_for_update()
                   .filter(_pairs(pairs)).order_by("system_id", "person_id")}
        tokens = {claim.job_id: claim.lease_token for claim in claims}
        jobs = {job.pk: job for job in Job.objects.select_for_update(of=("self",))
                .select_related("system__organisation", "person")
                .filter(pk__in=tokens, state=Job.State.IN_PROGRESS).order_by("id")
                if job.lease_token == tokens[job.pk]}
        finished: list[bool] = []
        changed_remotes: dict[tuple[uuid.UUID, uuid.UUID], RemoteUser] = {}
        changed_jobs: list[Job] = []
        for claim, outcome in zip(claims, outcomes, strict=True):
            job = jobs.get(claim.job_id)
            finished.append(job is not None)
            if job is None:
                logger.warning("provisioning: job %s was taken over by another worker; its push "
                               "is not recorded here", claim.job_id)
                continue
            remote = remotes[(claim.system_id, claim.person_id)]
            if outcome.remote_id:
                remote.remote_id = outcome.remote_id
                remote.version = outcome.version or remote.version
            if outcome.kind == "done":
                remote.digest, remote.active, remote.pushed_at = outcome.digest, outcome.active, now
                remote.groups = outcome.groups
            changed_remotes[(claim.system_id, claim.person_id)] = remote
            job.lease_token, job.lease_until = None, None
            job.last_error = outcome.error[:2000]
            changed_jobs.append(job)
            if outcome.kind == "retry":
                job.state = Job.State.PENDING
                delay = max(retry_delay(job.attempts), outcome.retry_after)
                job.available_at = now + dt.timedelta(seconds=delay)
                logger.warning("provisioning: job %s (%s) failed on try %d, next try at %s: %s",
                               job.pk, job.system, job.attempts, job.available_at.isoformat(),
                               job.last_error)
                continue
            job.state = Job.State.DONE if outcome.kind == "done" else Job.State.FAILED
            job.result, job.finished_at = outcome.result, now
            if outcome.kind == "done":
                record(actor=actor, action=audit.JOB_PUSHED.code, target=job, subject=job.person,
                       organisation=job.system.organisation,
                       changes={"system": [None, job.system.name], "result": [None, job.result],
                                "change": [None, job.change]})
            else:
                record(actor=actor, action=audit.JOB_FAILED.code, target=job, subject=job.person,
                       organisation=job.system.organisation, outcome="failure",
                       changes={"system": [None, job.system.name], "error": [None, job.last_error]})
        _update_remotes(list(changed_remotes.values()))
        # Jobs finished alike in one statement each (a retry's due time is its own).
        alike: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for job in changed_jobs:
            alike[(job.state, job.last_error, job.available_at, job.result,
                   job.finished_at)].append(job.pk)
        for (state, last_error, available_at, result, finished_at), ids in alike.items():
            Job.objects.filter(pk__in=ids).update(
                state=state, last_error=last_error, available_at=available_at, result=result,
                finished_at=finished_at, lease_token=None, lease_until=None)
        return finished


def _update_remotes(remotes: list[RemoteUser]) -> None:
    """Save what the pushes learnt of the target's users: one statement on PostgreSQL
    (`UPDATE ... FROM (VALUES ...)`; Django's `bulk_update` builds a CASE per row and field,
    which costs more CPU than the pushes themselves), one per row elsewhere."""
    fields = ["remote_id", "version", "digest", "active", "groups", "pushed_at"]
    if connection.vendor != "postgresql":
        for remote in remotes:
            remote.save(update_fields=fields)
        return
    if not remotes:
        return
    rows = ", ".join(["(%s::uuid, %s, %s, %s, %s::boolean, %s::jsonb, %s::timestamptz)"]
                     * len(remotes))
    values: list[Any] = []
    for r in remotes:
        values += [r.pk, r.remote_id, r.version, r.digest, r.active,
                   None if r.groups is None else json.dumps(r.groups), r.pushed_at]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {RemoteUser._meta.db_table} AS r SET remote_id = v.remote_id, "
            "version = v.version, digest = v.digest, active = v.active, groups = v.groups, "
            "pushed_at = v.pushed_at FROM (VALUES " + rows + ") AS v(id, remote_id, version, "
            "digest, active, groups, pushed_at) WHERE r.id = v.id", values)

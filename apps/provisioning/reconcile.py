"""Reconciliation: compare what a downstream system holds with what the portal says, and repair
the differences (docs/provisioning.md, "Reconciliation").

An administrator starts a run (a `ReconciliationRun` in state running); Celery beat advances every
running run by one page per `reconcile_step()`, so a run of any size never holds a worker long and
survives a worker's death (the run is leased while a step runs, `PROVISIONING_LEASE_SECONDS`).

1. **Portal phase.** The people in the system's scope (`scope.person_ids_in_scope`), a page at a
   time in id order, are compared with the target's users of the same `externalId` (one search
   per page, RFC 7644 §3.4.3, `or` of `eq` filters). A person missing at the target or differing
   in a compared attribute (`fingerprint`) gets a `reconcile` job (key `reconcile:<run>:<person>`)
   and their last-pushed digest is cleared, so that the push sends them even though the portal's
   state has not changed.
2. **Target phase.** The target's users are listed a page at a time (`startIndex`, RFC 7644
   §3.4.2.4). An active user whose `externalId` names no person in scope is deactivated: through a
   `reconcile` job when it is the user the portal pushed for that person (its `RemoteUser`; the
   push sends them inactive), else by a PATCH of `active` to false (RFC 7644 §3.5.2.3), sending
   nothing of the person. Nothing is ever deleted.
3. The run ends `done` with `total` (people in scope plus the target's users, counted again when
   the target phase starts, since the repairs add users; `compared` never exceeds it),
   `compared`, `repaired` (jobs queued) and `removed` (users deactivated), audited
   `reconciliation.finished`; a permanent refusal by the target ends it `failed` with the error.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Context, EnterpriseUser, PatchOp, SearchRequest

from apps.audit.services import record
from apps.commissions.policies import require_operator
from apps.core.actors import WORKER, SystemActor
from apps.core.calls import service
from apps.provisioning import audit
from apps.provisioning.client import TokenError, scim_client
from apps.provisioning.models import (
    DownstreamSystem,
    ProvisioningJob,
    ReconciliationRun,
    RemoteUser,
)
from apps.provisioning.push import PATCH_OP, PushFailure, scim_call
from apps.provisioning.resources import user_states
from apps.provisioning.schema import HsaUser, PortalUser
from apps.provisioning.scope import person_ids_in_scope

Run = ReconciliationRun

logger = logging.getLogger(__name__)

#: Largest `totalResults` believed from a target (RFC 7644 §3.4.2 puts no bound; the run's
#: counters are 32-bit integers).
TOTAL_MAX = 1_000_000_000


def _total(listed: Any) -> int:
    """A ListResponse's `totalResults`, within 0..TOTAL_MAX."""
    try:
        return min(max(int(listed.total_results or 0), 0), TOTAL_MAX)
    except (TypeError, ValueError):
        return 0


def reconcile_step(*, limit: int | None = None) -> int:
    """Advance each running, unleased reconciliation of an enabled system by one page, at most
    `limit` runs (default: all); returns how many moved on. A paused system's run waits. Transient
    failures (network, timeout, 429, 5xx) leave the run to the next step; a permanent one (or
    credentials that cannot be decrypted, or any unexpected error, logged) ends it failed."""
    steps = 0
    runs = Run.objects.filter(state=Run.State.RUNNING,
                              system__state=DownstreamSystem.State.ENABLED)  # paused: waits
    for run_id in runs.values_list("id", flat=True):
        if limit is not None and steps >= limit:
            break
        lease = _lease(run_id)
        if lease is None:
            continue
        run, until = lease
        try:
            _step(run)
        except (PushFailure, TokenError) as exc:
            if exc.transient:
                Run.objects.filter(pk=run.pk, lease_until=until).update(lease_until=None)
            else:
                reconciliation_finish(actor=WORKER, run_id=run.pk, error=str(exc)[:2000])
        except InvalidToken:
            reconciliation_finish(actor=WORKER, run_id=run.pk,
                                  error="the stored credentials cannot be decrypted (key missing)")
        except Exception as exc:  # a step must never stop the other runs nor stay leased
            logger.exception("provisioning: reconciliation %s failed unexpectedly", run.pk)
            reconciliation_finish(actor=WORKER, run_id=run.pk,
                                  error=f"unexpected error: {exc!r}"[:2000])
        steps += 1
    return steps


def _lease(run_id: uuid.UUID) -> tuple[Run, dt.datetime] | None:
    skip = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        now = timezone.now()
        run = (Run.objects.select_for_update(skip_locked=skip).select_related("system")
               .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now), pk=run_id,
                       state=Run.State.RUNNING).first())
        if run is None:
            return None
        run.lease_until = now + dt.timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)
        run.save(update_fields=["lease_until"])
        return run, run.lease_until


def _step(run: Run) -> None:
    system = DownstreamSystem.objects.prefetch_related("scope").get(pk=run.system_id)
    page = settings.PROVISIONING_RECONCILE_PAGE_SIZE
    client = scim_client(system)
    try:
        cursor = dict(run.cursor)
        if not cursor:
            listed = scim_call(system, client.search, PortalUser,
                           SearchRequest.model_validate({"attributes": ["id"], "count": 0}))
            run.total = min(person_ids_in_scope(system).count() + _total(listed), TOTAL_MAX)
            cursor = {"phase": "portal", "after": ""}
        finished = False
        if cursor["phase"] == "portal":
            if _portal_page(run, system, client, cursor, page):
                cursor = {"phase": "target", "start": 1}
        else:
            finished = _target_page(run, system, client, cursor, page)
    finally:
        client.client.close()
    with transaction.atomic():
        run.cursor, run.lease_until = cursor, None
        run.save(update_fields=["cursor", "lease_until", "total", "compared", "repaired",
                                "removed"])
    if finished:
        reconciliation_finish(actor=WORKER, run_id=run.pk, error="")


def _portal_page(run: Run, system: DownstreamSystem, client: SyncSCIMClient,
                 cursor: dict[str, Any], page: int) -> bool:
    """Compare the next page of people in scope; True when it was the last one."""
    ids = list(person_ids_in_scope(system).filter(person_id__gt=cursor["after"] or uuid.UUID(int=0))
               [:page])
    if not ids:
        return True
    states = user_states(system, ids)
    wanted = " or ".join(f'externalId eq "{person_id}"' for person_id in ids)
    found = scim_call(system, client.search, PortalUser,
                      SearchRequest.model_validate({"filter": wanted, "count": len(ids)}))
    held = {str(user.external_id): user for user in found.resources or []}
    differing = [state.person_id for state in states
                 if str(state.person_id) not in held
                 or fingerprint(held[str(state.person_id)]) != fingerprint(state.resource)]
    _queue(run, system, differing)
    run.compared += len(ids)
    run.repaired += len(differing)
    cursor["after"] = str(ids[-1])
    return len(ids) < page


def _target_page(run: Run, system: DownstreamSystem, client: SyncSCIMClient,
                 cursor: dict[str, Any], page: int) -> bool:
    """Deactivate the next page of the target's active users outside the scope; True when it was
    the last page."""
    listed = scim_call(system, client.search, PortalUser,
                   SearchRequest.model_validate({"attributes": ["id", "externalId", "active"],
                                                "startIndex": cursor["start"], "count": page}))
    users = list(listed.resources or [])
    if cursor["start"] == 1:  # the repairs of the portal phase may have added users
        run.total = min(run.compared + _total(listed), TOTAL_MAX)
    people: dict[str | None, uuid.UUID | None] = {}
    for user in users:
        try:
            people[user.id] = uuid.UUID(str(user.external_id))
        except ValueError:
            people[user.id] = None
    known = {pid for pid in people.values() if pid is not None}
    in_scope = set(person_ids_in_scope(system).filter(person_id__in=known))
    # Only a user the portal pushed itself (its RemoteUser names this remote id) is repaired by
    # a push; any other, even one naming a portal person, gets only `active` false, so the
    # target never learns data of a person it never received (docs/provisioning.md, "Scope").
    pushed = {(str(remote_id), person_id) for remote_id, person_id in RemoteUser.objects.filter(
        system=system, person_id__in=known).exclude(remote_id="")
        .values_list("remote_id", "person_id")}
    stray = [user for user in users if user.active is not False
             and people[user.id] not in in_scope]
    ours = [user for user in stray if (str(user.id), people[user.id]) in pushed]
    _queue(run, system, [people[user.id] for user in ours])
    for user in stray:
        if user not in ours:
            patch = PatchOp[PortalUser].model_validate(  # type: ignore[misc]
                {"schemas": [PATCH_OP],
                 "Operations": [{"op": "replace", "path": "active", "value": False}]})
            scim_call(system, client.modify, PortalUser, user.id, patch)
    run.compared += len(users)
    run.total = max(run.total, run.compared)
    run.removed += len(stray)
    cursor["start"] = cursor["start"] + len(users)
    return len(users) < page


def fingerprint(user: PortalUser) -> dict[str, Any]:
    """The attributes reconciliation compares (what the portal sends and a target keeps as sent):
    userName, active, names, e-mail addresses, the enterprise employee number and organisation,
    and the HSA-ids of the employments and commissions."""
    enterprise = user[EnterpriseUser]
    hsa = user[HsaUser]
    dumped = user.model_dump(scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    return {
        "userName": user.user_name, "active": bool(user.active),
        "name": dumped.get("name"), "displayName": user.display_name,
        "emails": sorted(str(e.value) for e in user.emails or []),
        "employeeNumber": enterprise.employee_number if enterprise else None,
        "organization": enterprise.organization if enterprise else None,
        "employments": sorted(e.hsa_id or "" for e in (hsa.employments or [])) if hsa else [],
        "commissions": sorted(c.hsa_id or "" for c in (hsa.commissions or [])) if hsa else [],
    }


def _queue(run: Run, system: DownstreamSystem, person_ids: Sequence[uuid.UUID | None]) -> None:
    """A `reconcile` job per person, their digest cleared (the provisioning lock order: the
    people's RemoteUser rows in id order, then the jobs)."""
    ids = [pid for pid in person_ids if pid is not None]
    if not ids:
        return
    with transaction.atomic():
        RemoteUser.objects.bulk_create([RemoteUser(system=system, person_id=pid) for pid in ids],
                                       ignore_conflicts=True)
        list(RemoteUser.objects.select_for_update().filter(system=system, person_id__in=ids)
             .order_by("person_id"))
        RemoteUser.objects.filter(system=system, person_id__in=ids).update(digest="", groups=None)
        ProvisioningJob.objects.bulk_create(
            [ProvisioningJob(system=system, person_id=pid, key=f"reconcile:{run.pk}:{pid}",
                             change="reconcile") for pid in ids], ignore_conflicts=True)


@service
def reconciliation_finish(*, actor: SystemActor, run_id: uuid.UUID, error: str) -> None:
    """End the running reconciliation `run_id`: `done`, or `failed` with `error` when not empty;
    audited `reconciliation.finished` with its counts. A run no longer running is left as it is.
    Raises Forbidden for an actor other than the portal's own."""
    require_operator(actor)
    with transaction.atomic():
        run = (Run.objects.select_for_update().select_related("system")
               .filter(pk=run_id, state=Run.State.RUNNING).first())
        if run is None:
            return
        run.state = Run.State.FAILED if error else Run.State.DONE
        run.error, run.finished_at, run.lease_until = error, timezone.now(), None
        run.save(update_fields=["state", "error", "finished_at", "lease_until"])
        record(actor=actor, action=audit.RECONCILIATION_FINISHED.code, target=run,
               organisation=run.system.organisation,
               outcome="failure" if error else "success",
               changes={"system": [None, run.system.name], "compared": [None, run.compared],
                        "repaired": [None, run.repaired], "removed": [None, run.removed],
                        **({"error": [None, error]} if error else {})})

"""Reads of the provisioning administration (docs/provisioning.md, "Status page"): the downstream
systems an administrator sees, each system's jobs by state and its latest reconciliation.

The job table grows without end (every change of every person, per system), so nothing here
counts it whole: counts stop at `COUNT_CAP` (shown as "10 000 or more") and lists are keyset
paginated on the job id, each an index range scan of `provisioning_job_state_idx`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.fernet import InvalidToken
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from apps.audit import registry
from apps.commissions.policies import scope_roots
from apps.core.errors import NotFound
from apps.core.paging import capped_count
from apps.core.queries import get_or_not_found
from apps.identities.actors import Actor
from apps.organisations.selectors import subtree_q
from apps.provisioning import credentials
from apps.provisioning.models import DownstreamSystem, ProvisioningJob, ReconciliationRun

#: Counts of jobs stop here: a count up to the cap reads at most this many index entries.
COUNT_CAP = 10_000
#: Jobs on one page of the status page.
PAGE_SIZE = 50
#: The job states in the order the status page lists them: what needs someone first.
STATES = (ProvisioningJob.State.FAILED, ProvisioningJob.State.PENDING,
          ProvisioningJob.State.IN_PROGRESS, ProvisioningJob.State.DONE,
          ProvisioningJob.State.SKIPPED)
#: States listed oldest first (the order they are pushed in); the others newest first.
QUEUE_STATES = (ProvisioningJob.State.PENDING, ProvisioningJob.State.IN_PROGRESS)

#: Changes that are not an audit action code (`ProvisioningJob.change`).
CHANGE_LABELS = {
    "reconcile": _("Difference found by a reconciliation"),
    "schedule.started": _("Commission or role began (scheduled)"),
    "schedule.ended": _("Commission or role ended (scheduled)"),
}


#: What a push did (`ProvisioningJob.result`).
RESULT_LABELS = {
    "created": _("User created"),
    "updated": _("User updated"),
    "unchanged": _("Already up to date"),
    "deactivated": _("User deactivated"),
    "duplicate": _("Delivered before (no-op)"),
    "recovered": _("Existing user found and updated"),
}


def result_label(code: str) -> str:
    """What a job's `result` code means, in the active language; an unknown code as it is."""
    label = RESULT_LABELS.get(code)
    return str(label) if label is not None else code


def change_label(code: str) -> str:
    """What a job's `change` code means, in the active language: the audit action's label
    (`apps.audit.registry.label`) or the scheduler's and reconciliation's own."""
    label = CHANGE_LABELS.get(code)
    return str(label) if label is not None else registry.label(code)


def system_list_for_actor(actor: Actor) -> QuerySet[DownstreamSystem]:
    """The systems whose organisation lies in the actor's scope as a local administrator, by
    name, with their organisation; none for anyone else (deny by default)."""
    return (DownstreamSystem.objects.filter(subtree_q(scope_roots(actor), "organisation__"))
            .select_related("organisation").order_by("name", "organisation__path"))


def system_get_for_actor(actor: Actor, system_id: uuid.UUID) -> DownstreamSystem:
    """One system of `system_list_for_actor`; NotFound for a missing one and one outside the
    scope alike."""
    return get_or_not_found(system_list_for_actor(actor), system_id)


#: The largest job id (a PostgreSQL bigint); a larger number in a link is no job.
JOB_ID_MAX = 2**63 - 1


def parse_job_id(text: str) -> int | None:
    """`text` (from a link) as a job id: decimal digits up to `JOB_ID_MAX`, else None."""
    if not (text.isascii() and text.isdigit()) or int(text) > JOB_ID_MAX:
        return None
    return int(text)


def job_get_for_system(system: DownstreamSystem, job_id: int) -> ProvisioningJob:
    """The job `job_id` of `system` with its system and person; NotFound when the system has no
    such job."""
    if job_id > JOB_ID_MAX:
        raise NotFound()
    job = (ProvisioningJob.objects.filter(system=system, pk=job_id)
           .select_related("system__organisation", "person").first())
    if job is None:
        raise NotFound()
    return job


@dataclass(frozen=True)
class Count:
    """How many jobs of a system are in `state` (`label` translated): `count`, at most
    `COUNT_CAP`; `capped` when there are more (`apps.core.paging.capped_count`)."""

    state: str
    label: str
    count: int
    capped: bool


def _count(system: DownstreamSystem, state: str) -> Count:
    found = capped_count(ProvisioningJob.objects.filter(system=system, state=state), COUNT_CAP)
    return Count(state, str(ProvisioningJob.State(state).label), found.count, found.more)


def job_counts(system: DownstreamSystem,
               states: tuple[str, ...] = STATES) -> dict[str, Count]:
    """The capped count of `system`'s jobs in each of `states` (one bounded read each, of at most
    `COUNT_CAP + 1` index entries), by
    state, in the order of `states`."""
    return {state: _count(system, state) for state in states}


def oldest_pending_since(system: DownstreamSystem) -> datetime | None:
    """When `system`'s oldest pending job was queued (UTC; its lowest id), or None."""
    return (ProvisioningJob.objects.filter(system=system, state=ProvisioningJob.State.PENDING)
            .order_by("id").values_list("created_at", flat=True).first())


def job_page(system: DownstreamSystem, state: str, *, after: int | None = None,
             size: int = PAGE_SIZE) -> tuple[list[ProvisioningJob], int | None]:
    """One page of `system`'s jobs in `state`, with the person: pending and in progress oldest
    first (the order they are pushed in), the others newest first. At most `size` jobs after the
    job id `after`, and the id to continue after (None on the last page). Each job carries
    `change_label` and `result_label`."""
    jobs = ProvisioningJob.objects.filter(system=system, state=state).select_related("person")
    ascending = state in QUEUE_STATES
    if after is not None:
        jobs = jobs.filter(id__gt=after) if ascending else jobs.filter(id__lt=after)
    rows = list(jobs.order_by("id" if ascending else "-id")[:size + 1])
    for job in rows:
        job.change_label = change_label(job.change)  # type: ignore[attr-defined]
        job.result_label = result_label(job.result)  # type: ignore[attr-defined]
    if len(rows) <= size:
        return rows, None
    return rows[:size], rows[size - 1].pk


@dataclass(frozen=True)
class Reconciliation:
    """A system's latest reconciliation run and its progress: `percent` of `total` people
    compared (0–100; None while the total is not known yet)."""

    run: ReconciliationRun
    percent: int | None

    @property
    def running(self) -> bool:
        return self.run.state == ReconciliationRun.State.RUNNING


def latest_reconciliation(system: DownstreamSystem) -> Reconciliation | None:
    """The newest reconciliation run of `system` with its progress, or None."""
    run = ReconciliationRun.objects.filter(system=system).order_by("-created_at").first()
    if run is None:
        return None
    percent = min(100, run.compared * 100 // run.total) if run.total else None
    return Reconciliation(run, percent)


def credential_settings(system: DownstreamSystem) -> dict[str, Any]:
    """The parts of `system`'s credentials that are not secret, to fill in the form again: the
    OAuth2 `token_url`, `client_id` and `scope` (none for a bearer token). Never the token or the
    client secret. Empty when no configured key decrypts them any more."""
    try:
        stored = credentials.decrypt(system.credentials)
    except InvalidToken:
        return {}
    return {key: stored[key] for key in ("token_url", "client_id", "scope") if key in stored}

"""Provisioning to downstream systems over SCIM 2.0 (RFC 7643, RFC 7644).

- `DownstreamSystem`: a system that receives the people of some organisations (a record system, an
  e-service, a directory), registered by the owning organisation's administrators.
- `ProvisioningJob`: one change to push to one system, written from the outbox event of the change
  (docs/provisioning.md, "From a change to the target"). The push sends the person's state as it is
  when the job runs, so a job is idempotent in effect and a later job never undoes an earlier one.
- `RemoteUser` / `RemoteGroup`: what the target calls the person's User and a role's Group (its
  `id`), learnt from the create response or, after a 409, by searching `externalId`.
- `ReconciliationRun`: one full comparison of a target with what the portal says, with progress.

The lock order of provisioning is: system → remote user (the per-person serialisation point) →
job (docs/provisioning.md, "Lock order").
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import BaseModel
from apps.identities.models import Person
from apps.organisations.models import Organisation


class DownstreamSystem(BaseModel):
    """A SCIM 2.0 service provider that receives people from the portal.

    - `organisation`: the owner; its administrators (and those above it) manage the system.
    - `base_url`: the SCIM base URL (RFC 7644 §3.1), e.g. `https://hr.example.se/scim/v2`.
    - `auth_method` + `credentials`: a bearer token (RFC 6750) or OAuth2 client credentials
      (RFC 6749 §4.4), stored as a Fernet token (`apps.provisioning.credentials`), never in clear.
    - `scope`: the organisations whose people (staff with an employee HSA-id or a commission in
      that organisation's subtree) it receives.
    - `attributes`: which optional attribute groups it receives (`ATTRIBUTE_CHOICES`).
    - `state`: `enabled` pushes; `paused` queues (jobs stay pending until it is enabled again).
    """

    class AuthMethod(models.TextChoices):
        BEARER = "bearer", _("Bearer token")
        CLIENT_CREDENTIALS = "client_credentials", _("OAuth2 client credentials")

    class State(models.TextChoices):
        ENABLED = "enabled", _("Enabled")
        PAUSED = "paused", _("Paused")

    #: Optional attribute groups beyond the always-sent userName, externalId, name and active.
    ATTRIBUTE_CHOICES = (
        ("emails", _("E-mail addresses")),
        ("enterprise", _("Enterprise extension (employee number, organisation)")),
        ("employments", _("Employee HSA-ids")),
        ("commissions", _("Commissions and care units")),
        ("groups", _("System roles as groups")),
    )

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("organisation"))
    name = models.CharField(_("name"), max_length=200)
    base_url = models.URLField(_("SCIM base URL"), max_length=500)
    auth_method = models.CharField(_("authentication"), max_length=32, choices=AuthMethod.choices)
    credentials = models.TextField(editable=False)
    scope = models.ManyToManyField(Organisation, related_name="+", verbose_name=_("people of"))
    attributes = models.JSONField(default=list)
    state = models.CharField(_("state"), max_length=16, choices=State.choices,
                             default=State.ENABLED)
    created_by_label = models.CharField(max_length=200)
    created_by_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"],
                                    name="provisioning_system_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class ProvisioningJob(models.Model):
    """One change of one person to push to one downstream system.

    - `id`: increasing; per (system, person) jobs run in `id` order, one at a time.
    - `key`: the change's idempotency key (the outbox event's key); unique per system, so the same
      change is never queued twice, and a second delivery is recorded as `duplicate`.
    - `change`: what happened, an audit action code (`commission.granted`) or `reconcile`,
      `schedule.started`, `schedule.ended` for the scheduler's time-based changes.
    - `state`: pending → in_progress → done | failed; pending | failed → skipped (an operator).
    - `lease_until`: while in progress, when the claim lapses (a killed worker's job is taken up
      again after it); `attempts`, `available_at`, `last_error` as in the outbox.
    - `result`: what the push did (`created`, `updated`, `unchanged`, `deactivated`, `duplicate`,
      `recovered` after a 409).
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    id = models.BigAutoField(primary_key=True)
    system = models.ForeignKey(DownstreamSystem, on_delete=models.PROTECT, related_name="jobs")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=200)
    change = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    available_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    result = models.CharField(max_length=32, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The worker's scan: due open jobs.
            models.Index(fields=["available_at", "id"], name="provisioning_job_due_idx",
                         condition=Q(state__in=["pending", "in_progress"])),
            # The status page and the per-person order.
            models.Index(fields=["system", "state", "-id"], name="provisioning_job_state_idx"),
            models.Index(fields=["system", "person", "id"], name="provisioning_job_person_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["system", "key"], name="provisioning_job_key_unique"),
            models.CheckConstraint(
                condition=Q(state="in_progress", lease_until__isnull=False, lease_token__isnull=False)
                | ~Q(state="in_progress"),
                name="provisioning_job_lease_when_in_progress",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.system_id} {self.person_id} {self.change} #{self.id}"


class RemoteUser(models.Model):
    """The target's User for one person in one system: `remote_id` (the target's `id`, empty until
    known), `version` (its last ETag, RFC 7644 §3.14), `digest` (SHA-256 of the last pushed
    resource, so an unchanged state is not sent again) and whether it was last pushed `active`.
    `groups` holds the system roles (codes) whose Groups the user was last made a member of, or
    None when that is not known (never pushed, recovered after a 409, or cleared by a
    reconciliation): the push then sets every role's membership. Its row is the per-person lock
    of the worker."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    system = models.ForeignKey(DownstreamSystem, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    remote_id = models.CharField(max_length=200, blank=True)
    version = models.CharField(max_length=200, blank=True)
    digest = models.CharField(max_length=64, blank=True)
    active = models.BooleanField(default=False)
    groups = models.JSONField(null=True, blank=True, default=None)
    pushed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["system", "person"], name="provisioning_remote_user_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.system_id} {self.person_id} {self.remote_id}"


class RemoteGroup(models.Model):
    """The target's Group for one system role (`apps.commissions.models.Role`) in one system."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    system = models.ForeignKey(DownstreamSystem, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=32)
    remote_id = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["system", "role"], name="provisioning_remote_group_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.system_id} {self.role} {self.remote_id}"


class ReconciliationRun(BaseModel):
    """One full comparison of a target with the portal: `total` people in scope, `compared` so
    far, `repaired` (jobs queued for a difference), `removed` (target users outside the scope
    deactivated), `state` running → done | failed, `error` when failed."""

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    system = models.ForeignKey(DownstreamSystem, on_delete=models.PROTECT,
                               related_name="reconciliations")
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING)
    total = models.PositiveIntegerField(default=0)
    compared = models.PositiveIntegerField(default=0)
    repaired = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_by_label = models.CharField(max_length=200)
    started_by_id = models.UUIDField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: Where the next step goes on (`apps.provisioning.reconcile`): the phase and its position.
    cursor = models.JSONField(default=dict)
    #: While a worker runs a step, until when it holds the run (a killed worker's run is taken up
    #: again after it).
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One run at a time per system.
            models.UniqueConstraint(fields=["system"], condition=Q(state="running"),
                                    name="provisioning_one_running_reconciliation"),
        ]


class AccessTokenCache(models.Model):
    """The OAuth2 access token (RFC 6749 §4.4, client credentials) a downstream system's token
    endpoint last issued, kept in the database so that every worker process shares it:
    `token` Fernet-encrypted like the credentials (`apps.provisioning.credentials`), valid until
    `expires_at` (UTC). Replaced when it is about to expire or the target refuses it (401)."""

    system = models.OneToOneField(DownstreamSystem, on_delete=models.CASCADE, primary_key=True,
                                  related_name="+")
    token = models.TextField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.system_id} until {self.expires_at.isoformat()}"


class ScheduleWatermark(models.Model):
    """How far the scheduler has handed time-based changes to provisioning (`apps.provisioning.
    schedule`): every validity boundary (a commission's or role's `valid_from` or `valid_until`)
    up to `passed_until` (UTC) has been published. One row per `name`; a run locks it, so runs in
    several processes take turns and never hand a boundary over twice."""

    name = models.CharField(primary_key=True, max_length=64)
    passed_until = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name

"""Employees, commissions (medarbetaruppdrag) with rights, and system roles.

Fields of a commission follow HSA's authorisation contracts (docs/glossary.md, "commission"); the portal
adds validity and who assigned it. A system role (administrativt uppdrag) is granted over an
organisation subtree, time-bound.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.commissions.vocabularies import Activity, InformationClass, Purpose, Scope
from apps.core.models import BaseModel, last_included_day
from apps.identities.models import Person
from apps.organisations.models import Organisation, hsa_id_constraints
from apps.organisations.validators import validate_hsa_id


class Employee(BaseModel):
    """An employee HSA-id of a person, issued under an organisation (its home in the tree).

    A staff member is one person with one or more employee HSA-ids; HSA-ids never change.
    """

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="employees")
    hsa_id = models.CharField(_("employee HSA-id"), max_length=31, unique=True,
                              validators=[validate_hsa_id])
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=100, blank=True)

    class Meta:
        constraints = hsa_id_constraints("employee", _("This HSA-id is already in use."))

    def __str__(self) -> str:
        return f"{self.person} ({self.hsa_id})"


class ValidityQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def active_at(self, when: datetime) -> ValidityQuerySet:
        """Rows valid at `when`: not ended and `valid_from <= when < valid_until` (open end)."""
        return self.filter(
            Q(valid_until__isnull=True) | Q(valid_until__gt=when),
            valid_from__lte=when,
            ended_at__isnull=True,
        )

    def overlapping(self, valid_from: datetime, valid_until: datetime | None) -> ValidityQuerySet:
        """Rows not ended whose validity overlaps [valid_from, valid_until) (None: open end)."""
        rows = self.filter(Q(valid_until__isnull=True) | Q(valid_until__gt=valid_from),
                           ended_at__isnull=True)
        return rows if valid_until is None else rows.filter(valid_from__lt=valid_until)


class ValidityStatus(models.TextChoices):
    """Where a time-bound assignment stands at a moment."""

    ACTIVE = "active", _("Active")
    UPCOMING = "upcoming", _("Upcoming")
    EXPIRED = "expired", _("Expired")
    ENDED = "ended", _("Ended")


class TimeBound(BaseModel):
    """Valid in [valid_from, valid_until) (UTC; open end allowed) unless ended early at `ended_at`
    with an `end_reason`; `assigned_by_*` is a snapshot of who granted it."""

    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    assigned_by_label = models.CharField(max_length=200)
    assigned_by_id = models.UUIDField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.TextField(blank=True)

    objects = ValidityQuerySet.as_manager()

    def status(self, now: datetime) -> ValidityStatus:
        """`ended` (ended early), `expired` (past valid_until), `upcoming` (before valid_from) or
        `active` at `now` (UTC)."""
        if self.ended_at is not None:
            return ValidityStatus.ENDED
        if self.valid_until is not None and self.valid_until <= now:
            return ValidityStatus.EXPIRED
        if self.valid_from > now:
            return ValidityStatus.UPCOMING
        return ValidityStatus.ACTIVE

    @property
    def current_status(self) -> ValidityStatus:
        """`status` now (for pages)."""
        return self.status(timezone.now())

    def can_end(self, now: datetime) -> bool:
        """True while it can still be ended early (active or upcoming)."""
        return self.status(now) in (ValidityStatus.ACTIVE, ValidityStatus.UPCOMING)

    @property
    def last_day(self) -> date | None:
        """The last included Swedish calendar day, or None for an open end (for display)."""
        return last_included_day(self.valid_until)

    class Meta:
        abstract = True
        ordering = ["-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="%(class)s_valid_range",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | ~Q(end_reason=""),
                name="%(class)s_end_has_reason",
            ),
        ]


class Commission(TimeBound):
    """A commission: purpose and rights at a care provider and optionally one of its care units,
    for a time (TimeBound)."""

    hsa_id = models.CharField(_("commission HSA-id"), max_length=31, unique=True,
                              validators=[validate_hsa_id])
    name = models.CharField(_("name"), max_length=200)
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="commissions")
    purpose = models.CharField(_("purpose"), max_length=64, choices=Purpose.choices)
    care_provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    care_unit = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="commissions"
    )

    class Meta(TimeBound.Meta):
        constraints = [
            *TimeBound.Meta.constraints,
            *hsa_id_constraints("commission", _("This HSA-id is already in use.")),
        ]

    def __str__(self) -> str:
        return self.name

    def rights_display(self) -> list[str]:
        return [str(r) for r in self.rights.all()]


class CommissionRight(models.Model):
    """One right `activity;information class;scope` of a commission (written with it)."""

    commission = models.ForeignKey(Commission, on_delete=models.CASCADE, related_name="rights")
    activity = models.CharField(max_length=16, choices=Activity.choices)
    information_class = models.CharField(max_length=8, choices=InformationClass.choices)
    scope = models.CharField(max_length=8, choices=Scope.choices)

    class Meta:
        ordering = ["activity", "information_class", "scope"]
        constraints = [
            models.UniqueConstraint(
                fields=["commission", "activity", "information_class", "scope"],
                name="commission_right_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.activity};{self.information_class};{self.scope}"


class Role(models.TextChoices):
    """System roles of the portal, granted over an organisation subtree."""

    LOCAL_ADMIN = "local_admin", _("Local administrator")
    ISSUER = "issuer", _("e-ID issuer")
    #: Approves and suspends the e-service clients of the organisations in its subtree
    #: (docs/identity-provider.md; the Sambi federation operator's role, docs/glossary.md).
    FEDERATION_OPERATOR = "federation_operator", _("Federation operator")


class RoleAssignment(TimeBound):
    """A system role (administrativt uppdrag) for a person over `organisation` and its subtree, for
    a time (TimeBound)."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="role_assignments")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")

    class Meta(TimeBound.Meta):
        pass

    def __str__(self) -> str:
        # The audit rows' target label: the role's code, shown translated (commissions.audit).
        return f"{self.role} @ {self.organisation}"


class PlannedLeave(BaseModel):
    """A planned leaver: after `last_day` (a calendar day in Europe/Stockholm) has ended, the
    scheduler makes `person` a leaver under `organisation`'s subtree (the scope of the
    administrator who planned it), as the system actor (`services.planned_leaves_apply`).
    `applied_at` (UTC) is set when that happened; one open plan per person and subtree."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="planned_leaves")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    last_day = models.DateField(_("last working day"))
    reason = models.TextField()
    planned_by_id = models.UUIDField(null=True, blank=True)
    planned_by_label = models.CharField(max_length=200)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "organisation"],
                                    condition=Q(applied_at__isnull=True),
                                    name="planned_leave_one_open"),
        ]
        indexes = [models.Index(fields=["last_day"], condition=Q(applied_at__isnull=True),
                                name="planned_leave_due")]

    def __str__(self) -> str:
        return f"{self.person} {self.last_day.isoformat()}"


class Enrolment(BaseModel):
    """How a joiner's new staff account gets its first credentials (docs/journey-joiner.md).

    `channel` `email`: an invitation e-mailed to the person's registered address; the link's token
    is made when the e-mail is sent (`services.enrolment_invitation_send`) and only its SHA-256
    `token_hash` is kept, so nobody can read it back, not even the administrator who registered
    the person; `sent_at` and `expires_at` (UTC) are set then. Spending it sets the password and
    obliges the first login to enrol an authenticator app (`apps.authn.invitations`).
    `channel` `issuer`: nothing is sent; an e-ID issuer who checked the person's identity document
    issues an activation code for a mobile e-ID, which marks the enrolment done.
    Open while neither `done_at` nor `ended_at` is set; one open enrolment per account. Ended
    when a new invitation replaces it and when the person's staff entitlement ends."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail an invitation")
        ISSUER = "issuer", _("Mobile e-ID from an issuer")

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="enrolments")
    user = models.ForeignKey("identities.User", on_delete=models.PROTECT, related_name="enrolments")
    channel = models.CharField(_("enrolment"), max_length=16, choices=Channel.choices)
    #: The address the invitation goes to: the work e-mail typed at registration (the registered
    #: contact for the enrolment; an existing person's own registered address is not changed).
    email = models.EmailField(_("work e-mail"), blank=True)
    token_hash = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_by_label = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user"],
                                    condition=Q(done_at__isnull=True, ended_at__isnull=True),
                                    name="enrolment_one_open"),
        ]
        indexes = [models.Index(fields=["token_hash"], condition=~Q(token_hash=""),
                                name="enrolment_token")]

    def __str__(self) -> str:
        return f"{self.person} ({self.channel})"

    @staticmethod
    def token_digest(token: str) -> str:
        """The SHA-256 hex digest an invitation token is stored as: the token is 32 random bytes
        (256 bits), so a plain digest can be neither reversed nor guessed (NIST SP 800-63B rev. 4,
        3.1.2.2: look-up secrets of at least 112 bits of entropy may be stored with a plain hash)."""
        return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()

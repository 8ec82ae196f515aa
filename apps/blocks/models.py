"""Blocks (spärrar) of a patient's information and their temporary revokes (tillfälliga hävningar).

A patient may have a care provider's information blocked (PDL 2008:355 4 kap. 4 §: inner block,
between the care units of one care provider; 6 kap. 2 § and 6 kap. 7 §: outer block, towards other
care providers in coherent record keeping), as Inera's Spärr contract models it (docs/decisions.md,
"Blocks"). Revoking a block permanently (hävning) and deleting a wrong registration (makulering)
are each stored once with who, when and why; rows are never deleted and a state, once set, is
never overwritten. Who is stored as a label snapshot plus the acting user's id, like the audit log.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.commissions.models import Employee
from apps.commissions.vocabularies import InformationClass
from apps.core.models import BaseModel, last_included_day
from apps.identities.models import Person
from apps.organisations.models import Organisation

#: The information types a block may exclude (domain: Inera's Spärr contract): medication (`lak`)
#: and alert information (`upp`).
EXCLUDABLE_TYPES = frozenset({InformationClass.MEDICATION.value, InformationClass.ALERTS.value})
#: A temporary revoke ends at most this long after its registration (Inera's Spärr contract).
TEMPORARY_REVOKE_MAX = timedelta(days=7)


class InformationPeriodDays:
    """The information period [period_start, period_end) as Swedish calendar days, for display."""

    period_start: datetime | None
    period_end: datetime | None

    @property
    def period_first_day(self) -> date | None:
        """The first Swedish calendar day of the information period, or None for an open start."""
        return timezone.localtime(self.period_start).date() if self.period_start else None

    @property
    def period_last_day(self) -> date | None:
        """The last included Swedish calendar day, or None for an open end."""
        return last_included_day(self.period_end)


class BlockQuerySet(models.QuerySet["Block"]):
    def in_force_at(self, when: datetime) -> BlockQuerySet:
        """Blocks that apply at `when` (UTC): registered by then, not revoked by then, never
        deleted (a deleted block was a wrong registration and never counted)."""
        return self.filter(
            Q(revoked_at__isnull=True) | Q(revoked_at__gt=when),
            registered_at__lte=when,
            deleted_at__isnull=True,
        )


class Block(InformationPeriodDays, BaseModel):
    """A block of the information of `care_provider` (and, for an inner block, of `care_unit`)
    about `patient`, optionally only for the information period [period_start, period_end) (UTC,
    either end open), except the excluded information types."""

    class Type(models.TextChoices):
        INNER = "inner", _("Inner block")
        OUTER = "outer", _("Outer block")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        REVOKED = "revoked", _("Lifted")
        DELETED = "deleted", _("Removed (wrong registration)")

    block_type = models.CharField(_("type"), max_length=8, choices=Type.choices)
    patient = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="blocks")
    care_provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+",
                                      verbose_name=_("care provider"))
    care_unit = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="blocks", verbose_name=_("care unit"))
    period_start = models.DateTimeField(_("information from"), null=True, blank=True)
    period_end = models.DateTimeField(_("information until"), null=True, blank=True)
    excludes_medication = models.BooleanField(_("medication excluded"), default=False)
    excludes_alerts = models.BooleanField(_("alert information excluded"), default=False)
    registered_at = models.DateTimeField(_("registered at"))
    registered_by_id = models.UUIDField(null=True, blank=True)
    registered_by_label = models.CharField(_("registered by"), max_length=200)
    revoked_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    revoked_by_id = models.UUIDField(null=True, blank=True)
    revoked_by_label = models.CharField(_("lifted by"), max_length=200, blank=True)
    revoke_reason = models.TextField(_("reason for lifting"), blank=True)
    deleted_at = models.DateTimeField(_("removed at"), null=True, blank=True)
    deleted_by_id = models.UUIDField(null=True, blank=True)
    deleted_by_label = models.CharField(_("removed by"), max_length=200, blank=True)
    delete_reason = models.TextField(_("reason for removal"), blank=True)

    objects = BlockQuerySet.as_manager()

    class Meta:
        ordering = ["-registered_at"]
        verbose_name = _("block")
        verbose_name_plural = _("blocks")
        indexes = [models.Index(fields=["patient", "care_provider"]),
                   # The care provider's list, newest first, by keyset (docs/search-and-lists.md).
                   models.Index(fields=["care_provider", "registered_at", "id"],
                                name="block_provider_registered_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(block_type__in=["inner", "outer"]),
                                   name="block_type_known"),
            models.CheckConstraint(condition=Q(block_type="outer") | Q(care_unit__isnull=False),
                                   name="inner_block_has_care_unit"),
            models.CheckConstraint(
                condition=Q(period_start__isnull=True) | Q(period_end__isnull=True)
                | Q(period_end__gt=F("period_start")),
                name="block_period_range",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True)
                | (~Q(revoked_by_label="") & ~Q(revoke_reason="")),
                name="block_revoke_has_actor_and_reason",
            ),
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=True)
                | (~Q(deleted_by_label="") & ~Q(delete_reason="")),
                name="block_deletion_has_actor_and_reason",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(deleted_at__isnull=True),
                name="block_revoked_or_deleted_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_block_type_display()}: {self.patient} ({self.care_unit or self.care_provider})"

    @property
    def excluded_types(self) -> frozenset[str]:
        """The excluded information type codes (a subset of EXCLUDABLE_TYPES)."""
        return frozenset(
            code for code, excluded in ((InformationClass.MEDICATION.value, self.excludes_medication),
                                        (InformationClass.ALERTS.value, self.excludes_alerts))
            if excluded
        )

    @property
    def status(self) -> Block.Status:
        """Deleted or lifted (both final), else active."""
        if self.deleted_at is not None:
            return self.Status.DELETED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        return self.Status.ACTIVE


class TemporaryRevokeQuerySet(models.QuerySet["TemporaryRevoke"]):
    def in_force_at(self, when: datetime) -> TemporaryRevokeQuerySet:
        """Temporary revokes in force at `when` (UTC): `valid_from <= when < valid_until` and not
        ended early by then."""
        return self.filter(
            Q(cancelled_at__isnull=True) | Q(cancelled_at__gt=when),
            valid_from__lte=when,
            valid_until__gt=when,
        )


class TemporaryRevoke(BaseModel):
    """A block lifted for a while (tillfällig hävning) for the staff of `care_unit` (or only
    `employee`), with the patient's consent or in an emergency, in [valid_from, valid_until) (UTC),
    ending at most TEMPORARY_REVOKE_MAX after registration; may be ended early (`cancelled_at`)."""

    class Reason(models.TextChoices):
        PATIENTS_CONSENT = "patients_consent", _("The patient's consent")
        EMERGENCY = "emergency", _("Emergency")

    block = models.ForeignKey(Block, on_delete=models.PROTECT, related_name="temporary_revokes")
    care_unit = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("care unit"))
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", verbose_name=_("staff member"))
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    registered_at = models.DateTimeField(_("registered at"))
    registered_by_id = models.UUIDField(null=True, blank=True)
    registered_by_label = models.CharField(_("registered by"), max_length=200)
    cancelled_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    cancelled_by_id = models.UUIDField(null=True, blank=True)
    cancelled_by_label = models.CharField(_("ended by"), max_length=200, blank=True)
    cancel_reason = models.TextField(_("reason for ending"), blank=True)

    objects = TemporaryRevokeQuerySet.as_manager()

    class Meta:
        ordering = ["-valid_from"]
        verbose_name = _("temporary lifting of a block")
        verbose_name_plural = _("temporary liftings of blocks")
        indexes = [models.Index(fields=["block", "care_unit"])]
        constraints = [
            models.CheckConstraint(condition=Q(reason__in=["patients_consent", "emergency"]),
                                   name="temporary_revoke_reason_known"),
            models.CheckConstraint(condition=Q(valid_until__gt=F("valid_from")),
                                   name="temporary_revoke_range"),
            models.CheckConstraint(
                condition=Q(valid_until__lte=F("registered_at") + TEMPORARY_REVOKE_MAX),
                name="temporary_revoke_at_most_7_days",
            ),
            models.CheckConstraint(
                condition=Q(cancelled_at__isnull=True)
                | (~Q(cancelled_by_label="") & ~Q(cancel_reason="")),
                name="temporary_revoke_cancel_has_actor_and_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.block} → {self.employee or self.care_unit}"


class BlockRequest(InformationPeriodDays, BaseModel):
    """A patient's request for a block (begäran om spärr), made in self-service and confirmed or
    declined by staff at the care provider that owns the information, who meet the patient and
    check their identity (docs/decisions.md, "Block requests"). The asked-for block is described
    as Block's fields. The state is set once from pending: confirmed (with the Block it
    registered), declined (with a reason shown to the patient) or withdrawn (by the patient); who
    and when are stored as a label snapshot plus the acting user's id, like the audit log."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for staff")
        CONFIRMED = "confirmed", _("Confirmed, block registered")
        DECLINED = "declined", _("Declined")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    #: At most this many characters of the patient's message.
    MESSAGE_MAX = 500

    patient = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="block_requests")
    block_type = models.CharField(_("type"), max_length=8, choices=Block.Type.choices)
    care_provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+",
                                      verbose_name=_("care provider"))
    care_unit = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("care unit"))
    period_start = models.DateTimeField(_("information from"), null=True, blank=True)
    period_end = models.DateTimeField(_("information until"), null=True, blank=True)
    excludes_medication = models.BooleanField(_("medication excluded"), default=False)
    excludes_alerts = models.BooleanField(_("alert information excluded"), default=False)
    message = models.CharField(_("message"), max_length=MESSAGE_MAX, blank=True)
    requested_at = models.DateTimeField(_("requested at"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices,
                             default=State.PENDING)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by_id = models.UUIDField(null=True, blank=True)
    decided_by_label = models.CharField(_("decided by"), max_length=200, blank=True)
    decline_reason = models.TextField(_("reason for declining"), blank=True)
    patient_met = models.BooleanField(_("patient met and identity checked"), default=False)
    block = models.OneToOneField(Block, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="request", verbose_name=_("block"))

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("block request")
        verbose_name_plural = _("block requests")
        indexes = [models.Index(fields=["care_provider", "state"]),
                   models.Index(fields=["patient", "state"])]
        constraints = [
            models.CheckConstraint(condition=Q(block_type__in=["inner", "outer"]),
                                   name="block_request_type_known"),
            models.CheckConstraint(condition=Q(block_type="outer") | Q(care_unit__isnull=False),
                                   name="inner_block_request_has_care_unit"),
            models.CheckConstraint(
                condition=Q(period_start__isnull=True) | Q(period_end__isnull=True)
                | Q(period_end__gt=F("period_start")),
                name="block_request_period_range",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "confirmed", "declined", "withdrawn"]),
                name="block_request_state_known",
            ),
            models.CheckConstraint(
                condition=(Q(state="pending", decided_at__isnull=True, decided_by_label="")
                           | (~Q(state="pending") & Q(decided_at__isnull=False)
                              & ~Q(decided_by_label=""))),
                name="block_request_decision_has_actor",
            ),
            models.CheckConstraint(
                condition=(Q(state="confirmed", block__isnull=False, patient_met=True)
                           | (~Q(state="confirmed") & Q(block__isnull=True))),
                name="block_request_confirmed_has_block",
            ),
            models.CheckConstraint(
                condition=(Q(state="declined") & ~Q(decline_reason=""))
                | (~Q(state="declined") & Q(decline_reason="")),
                name="block_request_declined_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_block_type_display()}: {self.patient} ({self.care_unit or self.care_provider})"

    @property
    def excluded_types(self) -> frozenset[str]:
        """The excluded information type codes (a subset of EXCLUDABLE_TYPES)."""
        return frozenset(
            code for code, excluded in ((InformationClass.MEDICATION.value, self.excludes_medication),
                                        (InformationClass.ALERTS.value, self.excludes_alerts))
            if excluded
        )

"""Consent and emergency access assertions (samtycke och nödåtkomst).

One model holds both kinds, as Inera's Samtycke contract does: a patient lets a care unit (all staff
with a commission there, or one named employee) read information from other care providers (PDL
2008:355 6 kap. 3 §), or a staff member registers emergency access when the patient cannot consent
(PDL 6 kap. 4 §).

Registration, withdrawal (återkallelse, by the patient) and deletion (makulering, a wrong
registration removed by staff) are each stored with who and when; nothing is ever deleted as a row,
so the history stays. Who is stored as a label snapshot plus the acting user's id, like the audit log.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.commissions.models import Employee
from apps.core.models import BaseModel, last_included_day
from apps.identities.models import Person
from apps.organisations.models import Organisation


class ConsentQuerySet(models.QuerySet["ConsentAssertion"]):
    def valid_at(self, when: datetime) -> ConsentQuerySet:
        """Assertions in force at `when` (UTC): not withdrawn, not deleted, and
        `valid_from <= when < valid_until` (an open end never expires)."""
        return self.filter(
            Q(valid_until__isnull=True) | Q(valid_until__gt=when),
            valid_from__lte=when,
            cancelled_at__isnull=True,
            deleted_at__isnull=True,
        )

    def not_revoked(self) -> ConsentQuerySet:
        """Assertions neither withdrawn nor deleted (whatever their period)."""
        return self.filter(cancelled_at__isnull=True, deleted_at__isnull=True)


class ConsentAssertion(BaseModel):
    """A consent (samtycke) or emergency access (nödåtkomst) assertion about one patient.

    Valid in [valid_from, valid_until) (UTC; open end allowed) unless withdrawn (`cancelled_at`)
    or deleted (`deleted_at`). `employee` absent means every staff member with a commission at
    `care_unit`; an emergency access always names the employee who registered it.
    """

    class Type(models.TextChoices):
        CONSENT = "consent", _("Consent")
        EMERGENCY = "emergency", _("Emergency access")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        UPCOMING = "upcoming", _("Not yet started")
        EXPIRED = "expired", _("Expired")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        DELETED = "deleted", _("Removed (wrong registration)")

    assertion_type = models.CharField(_("type"), max_length=16, choices=Type.choices)
    patient = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="consent_assertions")
    care_provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    care_unit = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="consent_assertions"
    )
    employee = models.ForeignKey(
        Employee, on_delete=models.PROTECT, null=True, blank=True, related_name="consent_assertions"
    )
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    representative_name = models.CharField(_("representative"), max_length=200, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    registered_at = models.DateTimeField(_("registered at"))
    registered_by_id = models.UUIDField(null=True, blank=True)
    registered_by_label = models.CharField(_("registered by"), max_length=200)
    cancelled_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    cancelled_by_id = models.UUIDField(null=True, blank=True)
    cancelled_by_label = models.CharField(_("withdrawn by"), max_length=200, blank=True)
    deleted_at = models.DateTimeField(_("removed at"), null=True, blank=True)
    deleted_by_id = models.UUIDField(null=True, blank=True)
    deleted_by_label = models.CharField(_("removed by"), max_length=200, blank=True)
    delete_reason = models.TextField(_("reason for removal"), blank=True)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["-valid_from"]
        indexes = [models.Index(fields=["patient", "care_unit"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="consent_valid_range",
            ),
            models.CheckConstraint(
                condition=Q(assertion_type="consent") | (~Q(reason="") & Q(employee__isnull=False)),
                name="emergency_has_reason_and_employee",
            ),
            models.CheckConstraint(
                condition=Q(assertion_type__in=["consent", "emergency"]),
                name="consent_type_known",
            ),
            models.CheckConstraint(
                condition=Q(cancelled_at__isnull=True) | ~Q(cancelled_by_label=""),
                name="consent_cancellation_has_actor",
            ),
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=True) | (~Q(deleted_by_label="") & ~Q(delete_reason="")),
                name="consent_deletion_has_actor_and_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_assertion_type_display()}: {self.patient} → {self.care_unit}"

    @property
    def is_emergency(self) -> bool:
        return self.assertion_type == self.Type.EMERGENCY

    @property
    def first_day(self) -> date:
        """The first Swedish calendar day of the period (for display)."""
        return timezone.localtime(self.valid_from).date()

    @property
    def last_day(self) -> date | None:
        """The last included Swedish calendar day, or None for an open end (for display; a consent
        "through 31 May" is stored as ending at 00:00 on 1 June)."""
        return last_included_day(self.valid_until)

    def status(self, now: datetime) -> ConsentAssertion.Status:
        """Where the assertion stands at `now` (UTC): deleted and withdrawn win over the period."""
        if self.deleted_at is not None:
            return self.Status.DELETED
        if self.cancelled_at is not None:
            return self.Status.WITHDRAWN
        if now < self.valid_from:
            return self.Status.UPCOMING
        if self.valid_until is not None and self.valid_until <= now:
            return self.Status.EXPIRED
        return self.Status.ACTIVE

    @property
    def current_status(self) -> ConsentAssertion.Status:
        """`status` now (for pages)."""
        return self.status(timezone.now())

    def in_force_or_upcoming(self, now: datetime) -> bool:
        """True while it is active or has not started: what a patient may still withdraw (an
        emergency access never: `policies.can_withdraw_consent`)."""
        return self.status(now) in (self.Status.ACTIVE, self.Status.UPCOMING)

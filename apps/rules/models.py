"""Emergency openings (nödöppningar) awaiting follow-up.

Every access the rules service allowed as emergency access (PDL 2008:355 6 kap. 4 §) is one row,
written in the same transaction as the decision's audit event. The accessing care provider follows
each one up (PDL 4 kap. 3 §, HSLF-FS 2016:40 4 kap. 9 §: systematic log follow-up): an
administrator marks it reviewed, once, with a comment. Who is a label snapshot plus the acting
user's id, like the audit log; the decision is referred to by its audit event id.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.commissions.models import Commission
from apps.consents.models import ConsentAssertion
from apps.core.models import BaseModel
from apps.identities.models import Person
from apps.organisations.models import Organisation


class EmergencyOpening(BaseModel):
    """One emergency opening: `commission`'s holder read `patient`'s information owned by
    `owner_provider` (`owner_unit`) at `opened_at` (UTC), with `reason` (the one stated in the
    request, or the emergency access assertion's). `care_provider` and `care_unit` are the
    commission's: the care provider that follows it up."""

    decision_id = models.UUIDField(_("decision"), unique=True)
    opened_at = models.DateTimeField(_("opened at"))
    patient = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    commission = models.ForeignKey(Commission, on_delete=models.PROTECT, related_name="+")
    care_provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    care_unit = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    owner_provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    owner_unit = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    assertion = models.ForeignKey(ConsentAssertion, on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="+")
    activity = models.CharField(_("activity"), max_length=16)
    information_type = models.CharField(_("information type"), max_length=8)
    reason = models.TextField(_("reason"))
    reviewed_at = models.DateTimeField(_("followed up at"), null=True, blank=True)
    reviewed_by_id = models.UUIDField(null=True, blank=True)
    reviewed_by_label = models.CharField(_("followed up by"), max_length=200, blank=True)
    review_comment = models.TextField(_("comment"), blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["care_provider", "reviewed_at", "opened_at"])]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="emergency_opening_has_reason"),
            models.CheckConstraint(
                condition=Q(reviewed_at__isnull=True)
                | (~Q(reviewed_by_label="") & ~Q(review_comment="")),
                name="emergency_opening_review_has_actor_and_comment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} ({self.opened_at:%Y-%m-%d %H:%M})"

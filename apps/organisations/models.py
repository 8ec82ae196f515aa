"""The organisation tree: care providers (vårdgivare) and care units (vårdenhet) with HSA-ids.

Care provider and care unit are roles of a node; each care unit belongs to exactly one care provider,
the nearest care-provider ancestor (PDL 2008:355 1 kap. 3 §). `path` is the materialised path of
HSA-ids from the root (`/SE..-A/SE..-B/`), so a subtree is one indexed prefix query; HSA-ids never
change, so paths never need rewriting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from apps.core.models import BaseModel
from apps.identities.identifiers import HSA_ID_STORED_PATTERN
from apps.organisations.validators import validate_hsa_id, validate_org_number

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise


def hsa_id_constraints(model: str, duplicate_message: str | StrPromise) -> list[models.BaseConstraint]:
    """The database rules of an `hsa_id` column of `model` ("organisation", "employee",
    "commission"): one id whatever its case (a unique index on `Lower("hsa_id")`, broken with
    `duplicate_message`), and only the normalised form `identifiers.normalise_hsa_id` returns
    (ASCII, upper-case `SE`), so no database case rule (PostgreSQL's Unicode `UPPER`/`LOWER`,
    SQLite's ASCII-only `LIKE`) can make a lookup match an id the validator would refuse
    (docs/security.md, "Identifiers that look alike")."""
    return [
        models.UniqueConstraint(
            Lower("hsa_id"), name=f"{model}_hsa_id_ci_unique",
            violation_error_message=duplicate_message,
        ),
        models.CheckConstraint(condition=Q(hsa_id__regex=HSA_ID_STORED_PATTERN),
                               name=f"{model}_hsa_id_normalised"),
    ]


class Organisation(BaseModel):
    """A node of the tree. `care_provider` is set for care units (and points to itself for a
    care provider), derived once at creation from the nearest care-provider ancestor."""

    hsa_id = models.CharField(_("HSA-id"), max_length=31, unique=True, validators=[validate_hsa_id])
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    path = models.CharField(max_length=1000, db_index=True, editable=False)
    is_care_provider = models.BooleanField(_("care provider"), default=False)
    is_care_unit = models.BooleanField(_("care unit"), default=False)
    org_number = models.CharField(
        _("organisation number"), max_length=11, blank=True, validators=[validate_org_number]
    )
    care_provider = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["path"]
        constraints = [
            # HSA-ids that differ only in case would be confused by people, and SQLite's prefix
            # match (the subtree query) ignores case: one id, whatever the case.
            *hsa_id_constraints("organisation",
                                _("An organisation with this HSA-id already exists.")),
            models.CheckConstraint(
                condition=Q(is_care_provider=False) | ~Q(org_number=""),
                name="care_provider_has_org_number",
            ),
            models.CheckConstraint(
                condition=Q(is_care_unit=False) | Q(care_provider__isnull=False),
                name="care_unit_has_care_provider",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        """0 for a root."""
        return self.path.count("/") - 2

"""Writes of the organisation tree."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.audit.services import record
from apps.core.calls import service
from apps.core.errors import ValidationFailed
from apps.identities.actors import Actor
from apps.identities.identifiers import IdentifierError, normalise_hsa_id, normalise_org_number
from apps.identities.policies import require_register_people
from apps.organisations import audit
from apps.organisations.models import Organisation


@service
def organisation_create(
    *,
    actor: Actor,
    hsa_id: str,
    name: str,
    parent: Organisation | None = None,
    is_care_provider: bool = False,
    is_care_unit: bool = False,
    org_number: str = "",
) -> Organisation:
    """Add a node under `parent`. A care provider needs an organisationsnummer; a care unit needs
    a care-provider ancestor (or is one). Only the operator registers organisations for now (the
    system actor: demo data, imports; `require_register_people`): Forbidden for anyone else.
    Raises ValidationFailed with the offending field."""
    require_register_people(actor)
    try:
        hsa_id = normalise_hsa_id(hsa_id)
        org_number = normalise_org_number(org_number) if org_number else ""
    except IdentifierError as exc:
        field = "org_number" if exc.code.startswith("orgnr") else "hsa_id"
        raise ValidationFailed(exc.message, code=exc.code, field=field) from exc
    care_provider = parent.care_provider if parent else None
    if is_care_unit and not is_care_provider and care_provider is None:
        raise ValidationFailed(
            _("A care unit must lie under a care provider."), code="organisation.no_care_provider"
        )
    with transaction.atomic():
        org = Organisation(
            hsa_id=hsa_id, name=name, parent=parent, is_care_provider=is_care_provider,
            is_care_unit=is_care_unit, org_number=org_number,
            path=f"{parent.path if parent else '/'}{hsa_id}/",
        )
        try:
            org.full_clean(exclude=["care_provider"])
        except DjangoValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            raise ValidationFailed(messages[0], code="organisation.invalid", field=field) from exc
        org.care_provider = org if is_care_provider else care_provider
        org.save()
        record(
            actor=actor, action=audit.ORGANISATION_CREATED.code, target=org, organisation=org,
            changes={"hsa_id": [None, hsa_id], "name": [None, name],
                     "parent": [None, parent.hsa_id if parent else None]},
        )
    return org

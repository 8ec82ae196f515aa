"""Naming an e-ID's device: the owner's own label for it, shown on their pages."""

from __future__ import annotations

import unicodedata

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.audit.services import record
from apps.core.calls import service
from apps.core.errors import NotFound, ValidationFailed
from apps.identities.actors import Actor
from apps.issuance import audit, policies
from apps.issuance.models import MobileEID

#: `MobileEID.device_name` holds at most this many characters.
DEVICE_NAME_MAX_LENGTH = 64


def _clean_device_name(name: str) -> str:
    """`name` in NFKC, without control characters and unpaired surrogates (which no text column
    holds), trimmed. Raises ValidationFailed (`eid.device_name`, field `device_name`) when longer
    than DEVICE_NAME_MAX_LENGTH."""
    printable = "".join(c for c in unicodedata.normalize("NFKC", name or "")
                        if unicodedata.category(c) not in ("Cc", "Cs")).strip()
    if len(printable) > DEVICE_NAME_MAX_LENGTH:
        raise ValidationFailed(
            _("Use at most %(max)d characters.") % {"max": DEVICE_NAME_MAX_LENGTH},
            code="eid.device_name", field="device_name")
    return printable


@service
def eid_rename(*, actor: Actor, eid: MobileEID, device_name: str) -> MobileEID:
    """Set the device name of the actor's own mobile e-ID (`_clean_device_name`; empty: the
    pages say "Mobile e-ID"). Audited `eid.renamed` with the old and new name. Raises Forbidden
    (not the owner), NotFound (gone), ValidationFailed (`eid.device_name`)."""
    policies.require_rename_eid(actor, eid)
    name = _clean_device_name(device_name)
    with transaction.atomic():
        row = MobileEID.objects.select_for_update().filter(pk=eid.pk).first()
        if row is None:
            raise NotFound()
        old = row.device_name
        if old != name:
            row.device_name = name
            row.save(update_fields=["device_name", "updated_at"])
            record(actor=actor, action=audit.EID_RENAMED.code, target=row, subject=row.person,
                   changes={"device_name": [old, name]})
    return row

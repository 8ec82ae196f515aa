"""The identity document an issuer checks in the administrative issuing process (the reference
architecture's issuance mode "administrative process": the issuer verifies an identity document)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ValidationFailed


class IdentityDocumentType(models.TextChoices):
    """Identity documents an issuer may check in the administrative issuing process."""

    PASSPORT = "passport", _("Passport")
    NATIONAL_ID_CARD = "national_id_card", _("National identity card")
    DRIVING_LICENCE = "driving_licence", _("Driving licence")


@dataclass(frozen=True)
class IdentityDocument:
    """The identity document an issuer checked: `type` (IdentityDocumentType), the document
    number's `last_four` digits and its `expires_on` date (must not be in the past)."""

    type: str
    last_four: str
    expires_on: dt.date


def identity_document_check(document: IdentityDocument | None) -> IdentityDocument:
    """The checked document, normalised. Raises ValidationFailed (`document.*`, with the field)
    for a missing document, an unknown type, last four that are not four digits, or an expired
    document (expiry before today, Swedish time)."""
    if document is None:
        raise ValidationFailed(
            _("Record the identity document you checked."), code="document.required",
            field="document_type",
        )
    if document.type not in IdentityDocumentType.values:
        raise ValidationFailed(_("Choose the type of identity document."), code="document.type",
                               field="document_type")
    last_four = document.last_four.strip()
    if len(last_four) != 4 or not last_four.isascii() or not last_four.isdigit():
        raise ValidationFailed(_("Enter the last four digits of the document number."),
                               code="document.last_four", field="document_last_four")
    if document.expires_on < timezone.localdate():
        raise ValidationFailed(
            _("The identity document has expired. Ask for a valid document."),
            code="document.expired", field="document_expires_on",
        )
    return IdentityDocument(type=document.type, last_four=last_four, expires_on=document.expires_on)

"""The identity document an issuer checks before acting for someone in person (the reference
architecture's issuance mode "administrative process": the issuer verifies an identity document;
also used when an issuer replaces a lost authenticator, apps.authn.recovery)."""

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


def identity_document_problems(*, document_type: str | None, last_four: str | None,
                               expires_on: dt.date | None) -> list[ValidationFailed]:
    """Every problem of an identity document's pieces at once (a form shows them all together),
    each a ValidationFailed (`document.*`) naming its field: an unknown type, last four that are
    not four digits, an expired document (expiry before today, Swedish time). A piece given as
    None is not checked (the caller reports it missing)."""
    problems: list[ValidationFailed] = []
    if document_type is not None and document_type not in IdentityDocumentType.values:
        problems.append(ValidationFailed(_("Choose the type of identity document."),
                                         code="document.type", field="document_type"))
    digits = (last_four or "").strip()
    if last_four is not None and (len(digits) != 4 or not digits.isascii() or not digits.isdigit()):
        problems.append(ValidationFailed(_("Enter the last four digits of the document number."),
                                         code="document.last_four", field="document_last_four"))
    if expires_on is not None and expires_on < timezone.localdate():
        problems.append(ValidationFailed(
            _("The identity document has expired. Ask for a valid document."),
            code="document.expired", field="document_expires_on"))
    return problems


def identity_document_check(document: IdentityDocument | None) -> IdentityDocument:
    """The checked document, normalised. Raises ValidationFailed (`document.*`, with the field)
    for a missing document, or the first of `identity_document_problems`."""
    if document is None:
        raise ValidationFailed(
            _("Record the identity document you checked."), code="document.required",
            field="document_type",
        )
    problems = identity_document_problems(document_type=document.type,
                                          last_four=document.last_four,
                                          expires_on=document.expires_on)
    if problems:
        raise problems[0]
    return IdentityDocument(type=document.type, last_four=document.last_four.strip(),
                            expires_on=document.expires_on)

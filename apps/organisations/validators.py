"""Django field validators wrapping the identifier rules (apps.identities.identifiers)."""

from django.core.exceptions import ValidationError

from apps.identities.identifiers import IdentifierError, normalise_hsa_id, normalise_org_number


def validate_hsa_id(value: str) -> None:
    """HSA-id: `SE` + organisationsnummer + `-` + [A-Za-z0-9]+, at most 31 characters."""
    try:
        normalise_hsa_id(value)
    except IdentifierError as exc:
        raise ValidationError(str(exc.message), code=exc.code) from exc


def validate_org_number(value: str) -> None:
    """Organisationsnummer `NNNNNN-NNNN` with a Luhn check digit (stdnum.se.orgnr)."""
    try:
        normalise_org_number(value)
    except IdentifierError as exc:
        raise ValidationError(str(exc.message), code=exc.code) from exc

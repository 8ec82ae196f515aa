"""The operator's registration of people and login accounts (demo data, imports); each audited in
the same transaction by the writes of `apps.identities.registration`."""

from __future__ import annotations

from apps.core.calls import service
from apps.core.errors import ValidationFailed
from apps.identities import policies
from apps.identities.actors import Actor
from apps.identities.identifiers import IdentifierError, parse_person_number
from apps.identities.models import Person, User
from apps.identities.registration import person_insert, user_insert


@service
def person_create(
    *,
    actor: Actor,
    given_name: str,
    family_name: str,
    person_number: str,
    email: str = "",
    is_protected: bool = False,
) -> Person:
    """Register a person with a personnummer or samordningsnummer (validated, 12 digits;
    `person_insert`). Raises ValidationFailed (field `person_number`) for an invalid or already
    registered number. The operator registers people this way (demo data, imports;
    `policies.require_register_people`): a user actor gets Forbidden. Local administrators
    register joiners with `apps.commissions.services.joiner_register`.
    """
    policies.require_register_people(actor)
    try:
        ident = parse_person_number(person_number)
    except IdentifierError as exc:
        raise ValidationFailed(exc.message, code=exc.code, field="person_number") from exc
    return person_insert(actor=actor, identifier=ident, given_name=given_name,
                         family_name=family_name, email=email, is_protected=is_protected)


@service
def user_create(
    *, actor: Actor, person: Person, username: str, kind: str, password: str | None = None
) -> User:
    """Create a login account for `person` (an unusable password when `password` is None).

    `username` is stored normalised (`identifiers.normalise_username`: NFKC, case-folded, ASCII
    letters, digits and `. - _`), so `ANNA.ADMIN` and `ａnna.admin` are the username `anna.admin`.
    Only the system (`policies.require_register_people`); raises Forbidden otherwise. Raises
    ValidationFailed (field `username`): `username.character`, `username.format` or
    `username.too_long` for a refused username; `username.taken` when an account already has it;
    `username.confusable` when it looks like an existing one by UTS #39 (`anna.adrnin` beside
    `anna.admin`; the database's unique index on `models.username_skeleton` decides, so two
    concurrent creations cannot both pass).
    """
    policies.require_register_people(actor)
    return user_insert(actor=actor, person=person, username=username, kind=kind,
                       password=password)

"""Writes of people and login accounts; each audited in the same transaction."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from apps.audit.services import record
from apps.core.calls import service
from apps.core.errors import ValidationFailed
from apps.identities import audit, policies
from apps.identities.actors import Actor
from apps.identities.identifiers import (
    IdentifierError,
    nfkc,
    normalise_username,
    parse_person_number,
)
from apps.identities.models import IdentityNumber, Person, User


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
    """Register a person with a personnummer or samordningsnummer (validated, 12 digits).

    Names are stored NFKC-normalised without surrounding whitespace, the form name searches use
    (docs/security.md, "Identifiers that look alike"). Raises ValidationFailed (field
    `person_number`) for an invalid or already registered number.
    Only the system registers people for now (demo data, imports; `policies.require_register_people`):
    a user actor gets Forbidden.
    """
    policies.require_register_people(actor)
    try:
        ident = parse_person_number(person_number)
    except IdentifierError as exc:
        raise ValidationFailed(exc.message, code=exc.code, field="person_number") from exc
    with transaction.atomic():
        person = Person.objects.create(
            given_name=nfkc(given_name).strip(), family_name=nfkc(family_name).strip(), email=email,
            is_protected=is_protected,
        )
        try:
            with transaction.atomic():
                IdentityNumber.objects.create(
                    person=person, root=ident.root, extension=ident.extension
                )
        except IntegrityError as exc:
            raise ValidationFailed(
                _("A person with this identity number is already registered."),
                code="person.duplicate", field="person_number",
            ) from exc
        record(
            actor=actor, action=audit.PERSON_CREATED.code, target=person, subject=person,
            changes={"given_name": [None, person.given_name],
                     "family_name": [None, person.family_name],
                     "identity_number": [None, ident.display]},
        )
    return person


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
    try:
        username = normalise_username(username)
    except IdentifierError as exc:
        raise ValidationFailed(exc.message, code=exc.code, field="username") from exc
    with transaction.atomic():
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    username=username, password=password, kind=kind, person=person
                )
        except IntegrityError as exc:
            if User.objects.filter(username=username).exists():
                raise ValidationFailed(
                    _("This username is already taken. Upper and lower case count as the same "
                      "letter in a username."), code="username.taken", field="username",
                ) from exc
            raise ValidationFailed(
                _("This username looks too much like an existing one (for example “rn” looks "
                  "like “m”, and “1” like “l”). Choose another."),
                code="username.confusable", field="username",
            ) from exc
        action = audit.PATIENT_ACCOUNT_CREATED if kind == User.Kind.PATIENT else audit.USER_CREATED
        record(
            actor=actor, action=action.code, target=user, subject=person,
            changes={"username": [None, username], "kind": [None, kind]},
        )
    return user

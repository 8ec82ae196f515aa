"""The writes that register a person and a login account, each audited in the same transaction.

For a service that has checked its own policy: the operator's `services.person_create` and
`services.user_create`, and a local administrator's `apps.commissions.services.joiner_register`.
Like `apps.audit.services.record()` they are part of the calling service's write, not services of
their own, and refuse to run outside a service call whose policy passed.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Field, Model
from django.utils.translation import gettext_lazy as _

from apps.audit.services import record
from apps.core.calls import current_call
from apps.core.errors import ValidationFailed
from apps.identities import audit
from apps.identities.actors import Actor
from apps.identities.changes import person_changed_publish
from apps.identities.identifiers import (
    IdentifierError,
    PersonIdentifier,
    normalise_text,
    normalise_username,
)
from apps.identities.models import IdentityNumber, Person, User

DUPLICATE_PERSON = _("A person with this identity number is already registered.")


def _require_checked_call() -> None:
    call = current_call()
    if call is None or not call.policies:
        raise RuntimeError("a write of people or accounts runs inside a service after its policy")


def stored_text(model: type[Model], field: str, value: str) -> str:
    """`value` NFKC-normalised and stripped for `model.field`, checked against the column's size
    after normalising (`identifiers.normalise_text`). Raises ValidationFailed (`text.too_long`,
    or `text.control` for a control character such as NUL; field `field`)."""
    column = model._meta.get_field(field)
    assert isinstance(column, Field) and column.max_length is not None
    max_length = column.max_length
    try:
        return normalise_text(value, max_length)
    except IdentifierError as exc:
        raise ValidationFailed(exc.message, code=exc.code, field=field) from exc


def person_insert(*, actor: Actor, identifier: PersonIdentifier, given_name: str,
                  family_name: str, email: str = "", is_protected: bool = False) -> Person:
    """Insert a person with the identity number `identifier` and audit `person.created`, in a
    transaction of its own nested in the caller's (a refusal leaves the caller's intact).

    Names are stored NFKC-normalised without surrounding whitespace, the form name searches use
    (docs/security.md, "Identifiers that look alike"). The unique constraint on (root, extension)
    decides between two registrations of one number, also concurrent ones: raises ValidationFailed
    (`person.duplicate`, field `person_number`) for the one that comes second. Raises RuntimeError
    outside a service call whose policy passed (a programming error), ValidationFailed
    (`text.too_long` on `given_name`, `family_name` or `email`) for a name or address longer than
    its column once normalised (`stored_text`)."""
    _require_checked_call()
    given_name = stored_text(Person, "given_name", given_name)
    family_name = stored_text(Person, "family_name", family_name)
    email = stored_text(Person, "email", email)
    with transaction.atomic():
        person = Person.objects.create(
            given_name=given_name, family_name=family_name, email=email,
            is_protected=is_protected,
        )
        try:
            with transaction.atomic():
                number = IdentityNumber.objects.create(
                    person=person, root=identifier.root, extension=identifier.extension)
        except IntegrityError as exc:
            raise ValidationFailed(DUPLICATE_PERSON, code="person.duplicate",
                                   field="person_number") from exc
        person_changed_publish(record(
            actor=actor, action=audit.PERSON_CREATED.code, target=person, subject=person,
            changes={"given_name": [None, person.given_name],
                     "family_name": [None, person.family_name],
                     "identity_number": [None, number.display]},
        ))
    return person


def user_insert(*, actor: Actor, person: Person, username: str, kind: str,
                password: str | None = None) -> User:
    """Insert a login account for `person` (an unusable password when `password` is None) and
    audit it, in a transaction of its own nested in the caller's. Raises ValidationFailed (field
    `username`, see `user_create`) and RuntimeError outside a checked service call."""
    _require_checked_call()
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
        event = record(
            actor=actor, action=action.code, target=user, subject=person,
            changes={"username": [None, username], "kind": [None, kind]},
        )
        # A staff account is part of what downstream systems receive; a patient account never is.
        if kind == User.Kind.STAFF:
            person_changed_publish(event)
    return user



"""People and their login accounts.

A `Person` is a human (staff member, patient or both); identity numbers are stored as
(root OID, extension), never as bare strings (docs/glossary.md, "identity number"). A `User` is a
login account linked to a person.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models import F, Func, Q, TextField, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Concat, Replace
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from apps.core.models import BaseModel
from apps.identities.identifiers import (
    OID_PERSONNUMMER,
    OID_SAMORDNINGSNUMMER,
    USERNAME_MAX_LENGTH,
    USERNAME_PATTERN,
    IdentifierError,
    normalise_username,
)
from apps.identities.signals import sessions_ended

#: The confusable pairs of Unicode's confusables.txt (UTS #39 §4) whose both sides lie in the
#: username alphabet (`identifiers.USERNAME_PATTERN`): each character and its prototype.
USERNAME_CONFUSABLES = (("1", "l"), ("m", "rn"))


def skeleton_of(username: str) -> str:
    """The UTS #39 skeleton of `username` in Python: what `username_skeleton` computes in the
    database (`sara1` → `saral`, `anna.adrnin` → `anna.adrnin`, `anna.admin` → `anna.adrnin`)."""
    for character, prototype in USERNAME_CONFUSABLES:
        username = username.replace(character, prototype)
    return username


def username_skeleton(username: Combinable | str) -> Combinable:
    """A database expression for the UTS #39 skeleton of a stored username (a column, an `F()` or
    a string): each character of `USERNAME_CONFUSABLES` replaced by its prototype, so
    `anna.adrnin` and `anna.admin`, or `sara1` and `saral`, share one skeleton. The username
    alphabet is ASCII, so no other confusables.txt entry can apply; a unique index on this
    expression keeps two confusable usernames out of the database whatever writes them."""
    expression: Combinable = Value(username) if isinstance(username, str) else username
    for character, prototype in USERNAME_CONFUSABLES:
        expression = Replace(expression, Value(character), Value(prototype))
    return expression


#: The PostgreSQL function that folds a name for search: `lower(unaccent(text))`, declared
#: IMMUTABLE (unaccent itself is only STABLE, as its dictionary could change) so an index can be
#: built over it; created by migration `0005_search_indexes` (docs/search-and-lists.md).
SEARCH_FOLD_FUNCTION = "portal_search_fold"


class SearchFold(Func):
    """`portal_search_fold(text)`: text in lower case without accents ("Åsa Öberg" → "asa
    oberg"), on PostgreSQL only (docs/decisions.md, "Search: accents")."""

    function = SEARCH_FOLD_FUNCTION
    output_field = TextField()


def person_search_name() -> SearchFold:
    """The expression the name search matches and the trigram index `person_name_trgm` covers:
    `portal_search_fold(' ' || given_name || ' ' || family_name)`; the leading space lets a
    pattern `% ek%` match the start of either name."""
    return SearchFold(Concat(Value(" "), "given_name", Value(" "), "family_name",
                             output_field=TextField()))


class Person(BaseModel):
    """A human. `is_protected` marks protected personal data (skyddade personuppgifter)."""

    given_name = models.CharField(_("given name"), max_length=100)
    family_name = models.CharField(_("family name"), max_length=100)
    email = models.EmailField(_("e-mail"), blank=True)
    is_protected = models.BooleanField(_("protected personal data"), default=False)
    #: Has, or has had, an employee HSA-id. On PostgreSQL set by a trigger on every new employee
    #: HSA-id (migration `commissions/0007`) and never cleared; read only by the name search,
    #: whose trigram index covers only such people (docs/search-and-lists.md, "Names: pg_trgm
    #: and unaccent"). Not kept on SQLite, where the search does not read it.
    is_staff = models.BooleanField(default=False, db_default=False, editable=False)

    class Meta:
        ordering = ["family_name", "given_name"]
        # The list order and its keyset (docs/search-and-lists.md); the trigram index over the
        # names is PostgreSQL's only and made by migration `0005_search_indexes`.
        indexes = [models.Index(fields=["family_name", "given_name", "id"],
                                name="person_name_order_idx")]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def person_number(self) -> str:
        """The canonical personnummer or samordningsnummer (`YYYYMMDD-NNNN`), or ""."""
        for number in self.identity_numbers.all():
            if number.root in (OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER):
                return number.display
        return ""

    @property
    def reserve_number(self) -> str:
        """A reserve id (reservnummer: any other root, its issuer's OID), as stored, or ""."""
        for number in self.identity_numbers.all():
            if number.root not in (OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER):
                return number.extension
        return ""


class IdentityNumber(BaseModel):
    """A person identifier as (root OID, extension); unique per root."""

    ROOT_CHOICES = [
        (OID_PERSONNUMMER, _("personal identity number")),
        (OID_SAMORDNINGSNUMMER, _("coordination number")),
        # The portal's own reserve ids (reservnummer) carry its own root (docs/decisions.md,
        # "Joiners"); a reserve id of another issuer carries that issuer's.
        (settings.PORTAL_RESERVE_ID_ROOT, _("reserve number")),
    ]

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="identity_numbers")
    root = models.CharField(max_length=64, choices=ROOT_CHOICES)
    extension = models.CharField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["root", "extension"], name="identity_number_unique"),
        ]

    def __str__(self) -> str:
        return self.display

    @property
    def display(self) -> str:
        """`YYYYMMDD-NNNN` for 12-digit numbers, else the extension as stored."""
        ext = self.extension
        return f"{ext[:8]}-{ext[8:]}" if len(ext) == 12 and ext.isdigit() else ext


class UserManager(BaseUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        """The account with this username in any case or width (`identifiers.normalise_username`),
        what Django's `authenticate()` looks up. A string the username rule refuses (a Cyrillic
        `а`, a zero-width space, a NUL) is no account's and is never sent to the database.
        Raises `User.DoesNotExist`."""
        try:
            return self.get(username=normalise_username(username or ""))
        except IdentifierError:
            raise self.model.DoesNotExist from None

    def end_sessions(self, person: Person) -> int:
        """End every session of the person's accounts, in every process at once (a new
        `session_epoch`), in the caller's transaction. Returns how many accounts were touched.
        Callers are services that checked their policy and audit the change that ends them, and
        lock the person first; `signals.sessions_ended` tells the apps that record sessions."""
        count = self.filter(person=person).update(session_epoch=uuid.uuid4())
        sessions_ended.send(sender=self.model, person=person, user=None)
        return count

    def create_user(self, username: str, password: str | None = None, **extra: Any) -> User:
        """Insert an account; `username` must already be normalised (`identifiers.normalise_username`,
        as `services.user_create` does): the database refuses any other form."""
        user = self.model(username=username, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    """A login account. `kind` is staff or patient; `person` is who the account belongs to.

    `username` is stored normalised (`identifiers.normalise_username`: lower-case ASCII letters,
    digits and `. - _`); the database holds that rule, the uniqueness and the uniqueness of the
    confusable skeleton (`username_skeleton`) even for writes that bypass the services."""

    class Kind(models.TextChoices):
        STAFF = "staff", _("staff")
        PATIENT = "patient", _("patient")

    id = models.UUIDField(primary_key=True, editable=False, default=uuid.uuid4)
    username = models.CharField(_("username"), max_length=USERNAME_MAX_LENGTH, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="users")
    is_active = models.BooleanField(default=True)  # type: ignore[misc]
    created_at = models.DateTimeField(auto_now_add=True)
    #: Mixed into every session's authentication hash: a new value ends all the account's sessions
    #: in every process at once (Django checks the hash on each request).
    session_epoch = models.UUIDField(default=uuid.uuid4, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(username__regex=USERNAME_PATTERN),
                                   name="user_username_normalised"),
            models.UniqueConstraint(username_skeleton(F("username")),
                                    name="user_username_skeleton_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.person} ({self.username})" if self.person_id else self.username

    @property
    def audit_label(self) -> str:
        """The name an audit row shows for this account as actor: the person's name."""
        return str(self.person) if self.person_id else self.username

    @property
    def audit_identifier(self) -> str:
        """The immutable identifier shown next to `audit_label`: a staff account's username. A
        patient account's username is internal (the demo derives it from the personnummer), so it
        is never shown: empty."""
        return self.username if self.kind == self.Kind.STAFF else ""

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """Django's session hash (HMAC of the password hash), also keyed by `session_epoch`, so a
        password change or a new epoch ends every session of the account."""
        return salted_hmac(
            "apps.identities.models.User.get_session_auth_hash",
            f"{self.password}:{self.session_epoch}", secret=secret, algorithm="sha256",
        ).hexdigest()

"""People and their login accounts.

A `Person` is a human (staff member, patient or both); identity numbers are stored as
(root OID, extension), never as bare strings (docs/glossary.md, "identity number"). A `User` is a
login account linked to a person.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from apps.core.models import BaseModel
from apps.identities.identifiers import OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER


class Person(BaseModel):
    """A human. `is_protected` marks protected personal data (skyddade personuppgifter)."""

    given_name = models.CharField(_("given name"), max_length=100)
    family_name = models.CharField(_("family name"), max_length=100)
    email = models.EmailField(_("e-mail"), blank=True)
    is_protected = models.BooleanField(_("protected personal data"), default=False)

    class Meta:
        ordering = ["family_name", "given_name"]
        indexes = [models.Index(fields=["family_name", "given_name"])]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def person_number(self) -> str:
        """The canonical personnummer or samordningsnummer (`YYYYMMDD-NNNN`), or ""."""
        for number in self.identity_numbers.all():
            if number.root in (OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER):
                return number.display
        return ""


class IdentityNumber(BaseModel):
    """A person identifier as (root OID, extension); unique per root."""

    ROOT_CHOICES = [
        (OID_PERSONNUMMER, _("personal identity number")),
        (OID_SAMORDNINGSNUMMER, _("coordination number")),
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
    def end_sessions(self, person: Person) -> int:
        """End every session of the person's accounts, in every process at once (a new
        `session_epoch`), in the caller's transaction. Returns how many accounts were touched.
        Callers are services that checked their policy and audit the change that ends them."""
        return self.filter(person=person).update(session_epoch=uuid.uuid4())

    def create_user(self, username: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(username=username, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    """A login account. `kind` is staff or patient; `person` is who the account belongs to."""

    class Kind(models.TextChoices):
        STAFF = "staff", _("staff")
        PATIENT = "patient", _("patient")

    id = models.UUIDField(primary_key=True, editable=False, default=uuid.uuid4)
    username = models.CharField(_("username"), max_length=150, unique=True)
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

    def __str__(self) -> str:
        return f"{self.person} ({self.username})" if self.person_id else self.username

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """Django's session hash (HMAC of the password hash), also keyed by `session_epoch`, so a
        password change or a new epoch ends every session of the account."""
        return salted_hmac(
            "apps.identities.models.User.get_session_auth_hash",
            f"{self.password}:{self.session_epoch}", secret=secret, algorithm="sha256",
        ).hexdigest()

"""Reads for the login pages and the sessions page."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from apps.authn.models import UserSession
from apps.core.errors import NotFound, ValidationFailed
from apps.identities.models import Person, User
from apps.identities.selectors import person_get_by_number


def patient_demo_user(person_number: str) -> User:
    """The patient account for a personnummer (demo login only). Raises ValidationFailed."""
    person = person_get_by_number(person_number)
    user = person and User.objects.filter(person=person, kind=User.Kind.PATIENT,
                                          is_active=True).first()
    if not user:
        raise ValidationFailed(_("No demo patient has this number."), code="login.no_patient",
                               field="person_number")
    return user


def sessions_list_for_person(person: Person) -> QuerySet[UserSession]:
    """The person's active login sessions (every account of theirs), newest first."""
    return (UserSession.objects.filter(user__person=person, ended_at__isnull=True)
            .select_related("user").order_by("-started_at"))


def session_get_for_actor(actor: User, session_id: uuid.UUID) -> UserSession:
    """An active session of the actor's own person. Raises NotFound for a missing, ended or
    someone else's session alike, so existence never leaks."""
    found = sessions_list_for_person(actor.person).filter(pk=session_id).first()
    if found is None:
        raise NotFound()
    return found


def session_get_by_key_hash(key_hash: str) -> UserSession | None:
    """The active session record whose key hashes to `key_hash` (`session.key_hash`), or None."""
    if not key_hash:
        return None
    return (UserSession.objects.filter(key_hash=key_hash, ended_at__isnull=True)
            .select_related("user__person").first())

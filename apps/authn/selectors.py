"""Reads for the login pages and the sessions page."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from apps.authn.models import Passkey, TOTPDevice, UserSession
from apps.core.errors import NotFound
from apps.identities.models import Person, User


def has_totp_device(user: User) -> bool:
    """True when the account has a confirmed TOTP second factor."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def sessions_list_for_person(person: Person) -> QuerySet[UserSession]:
    """The person's active login sessions (every account of theirs), newest first."""
    return (UserSession.objects.filter(user__person=person, ended_at__isnull=True)
            .select_related("user").order_by("-started_at"))


#: How many ended sessions the sessions page shows, and from how far back (seconds).
RECENTLY_ENDED_COUNT = 10
RECENTLY_ENDED_SECONDS = 7 * 24 * 3600


def sessions_recently_ended_for_person(person: Person) -> list[UserSession]:
    """The person's sessions that ended in the last `RECENTLY_ENDED_SECONDS` (7 days), the
    `RECENTLY_ENDED_COUNT` (10) most recently ended first, with their end reason."""
    since = timezone.now() - timedelta(seconds=RECENTLY_ENDED_SECONDS)
    return list(UserSession.objects.filter(user__person=person, ended_at__gte=since)
                .order_by("-ended_at")[:RECENTLY_ENDED_COUNT])


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


def passkeys_list(user: User) -> QuerySet[Passkey]:
    """The account's passkeys, oldest first."""
    return Passkey.objects.filter(user=user).order_by("created_at")


def passkey_get_for_user(user: User, passkey_id: uuid.UUID) -> Passkey:
    """A passkey of the account. Raises NotFound for a missing or someone else's passkey alike."""
    found = passkeys_list(user).filter(pk=passkey_id).first()
    if found is None:
        raise NotFound()
    return found


def totp_enrolment_pending(user: User) -> TOTPDevice | None:
    """The unconfirmed TOTP device `account.totp_enrolment_start` made for `user`, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()

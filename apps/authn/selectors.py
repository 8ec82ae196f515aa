"""Reads for the login pages and the sessions page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.authn.methods import method_label
from apps.authn.models import Passkey, TOTPDevice, UserSession
from apps.core import loa as levels
from apps.core.errors import NotFound
from apps.identities.models import Person, User


def has_totp_device(user: User) -> bool:
    """True when the account has a confirmed TOTP second factor."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def sessions_list_for_person(person: Person, *, staff_only: bool = False) -> QuerySet[UserSession]:
    """The person's active login sessions (every account of theirs; `staff_only`: of their staff
    accounts, what an administrator sees), newest first."""
    rows = UserSession.objects.filter(user__person=person, ended_at__isnull=True)
    if staff_only:
        rows = rows.filter(user__kind=User.Kind.STAFF)
    return rows.select_related("user").order_by("-started_at")


def session_get_for_staff_person(person: Person, session_id: uuid.UUID) -> UserSession:
    """An active session of one of `person`'s staff accounts (the person already found in the
    administrator's scope). Raises NotFound for a missing, ended, patient account's or another
    person's session alike, so a crafted id reveals nothing."""
    found = sessions_list_for_person(person, staff_only=True).filter(pk=session_id).first()
    if found is None:
        raise NotFound()
    return found


@dataclass(frozen=True)
class AccountFacts:
    """What the login records say about one account: `last_login_at` (UTC) of its newest
    session, or None when it never logged in, that login's `methods` (in words,
    `methods.method_label`) and `level` (2, 3, 4 or 0 for none), whether it has a confirmed TOTP
    device and how many passkeys."""

    account: User
    last_login_at: datetime | None
    methods: str
    level: int
    has_totp: bool
    passkey_count: int


def account_facts_list(accounts: QuerySet[User]) -> list[AccountFacts]:
    """`AccountFacts` of each of `accounts`, in their order, in one query whatever their number
    (subqueries on the newest session, the TOTP devices and the passkeys)."""
    newest = UserSession.objects.filter(user=OuterRef("pk")).order_by("-started_at")
    passkeys = (Passkey.objects.filter(user=OuterRef("pk")).order_by().values("user")
                .annotate(n=Count("pk")).values("n"))
    rows = accounts.annotate(
        last_login_at=Subquery(newest.values("started_at")[:1]),
        last_login_methods=Subquery(newest.values("methods")[:1]),
        last_login_loa=Subquery(newest.values("loa")[:1]),
        has_totp=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
        passkey_count=Coalesce(Subquery(passkeys), 0),
    )
    return [AccountFacts(row, row.last_login_at, method_label(row.last_login_methods or []),
                         levels.level(row.last_login_loa), row.has_totp, row.passkey_count)
            for row in rows]


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

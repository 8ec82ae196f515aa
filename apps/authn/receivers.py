"""Receivers of lower apps' signals (connected in `AuthnConfig.ready`)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from apps.authn.models import UserSession
from apps.identities.models import Person, User


def sessions_ended(sender: Any, *, person: Person, user: User | None = None,
                   **kwargs: Any) -> int:
    """`identities.signals.sessions_ended`: a new session epoch ended the sessions of `person`
    (or of the one account `user`). Mark their active session records ended (reason `account`)
    in the caller's transaction; the caller locked the person first and audits the change that
    ended them. Returns how many rows."""
    rows = UserSession.objects.filter(user__person=person, ended_at__isnull=True)
    if user is not None:
        rows = rows.filter(user=user)
    now = timezone.now()
    return rows.update(ended_at=now, end_reason=UserSession.EndReason.ACCOUNT, updated_at=now)

"""Reads of federated login: the IdPs offered on the discovery page and shown to the platform's
administrators."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.utils import timezone

from apps.federation import policies
from apps.federation.models import IdentityProvider
from apps.identities.actors import Actor


def idp_list_for_login(accounts: str | None = None) -> list[IdentityProvider]:
    """Enabled IdPs whose last good metadata is still valid, for `accounts` (staff or patient) or
    all, in the configured order."""
    now = timezone.now()
    found = IdentityProvider.objects.filter(enabled=True).exclude(metadata_xml="")
    if accounts:
        found = found.filter(accounts=accounts)
    return [idp for idp in found
            if idp.metadata_valid_until is None or idp.metadata_valid_until > now]


def idp_get_for_login(idp_id: uuid.UUID | str) -> IdentityProvider | None:
    """The enabled IdP with this id and usable metadata, or None."""
    return next((idp for idp in idp_list_for_login() if str(idp.pk) == str(idp_id)), None)


def idp_list_for_admin(actor: Actor) -> QuerySet[IdentityProvider]:
    """Every configured IdP with its metadata state, for the platform's administrators
    (`policies.require_view_identity_providers`; raises NotFound for anyone else)."""
    policies.require_view_identity_providers(actor)
    return IdentityProvider.objects.all()

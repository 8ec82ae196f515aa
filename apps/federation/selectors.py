"""Reads of federated login (the IdPs offered on the discovery page and shown to the platform's
administrators) and of the OpenID Connect provider's clients."""

from __future__ import annotations

import uuid

from django.db.models import Case, QuerySet, When
from django.utils import timezone

from apps.commissions.models import Role
from apps.commissions.policies import scope_roots
from apps.core.queries import get_or_not_found
from apps.federation import policies
from apps.federation.models import Client, IdentityProvider
from apps.federation.oidc.vocabulary import ClientState
from apps.identities.actors import Actor
from apps.organisations.selectors import subtree_q


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


def client_list_for_actor(actor: Actor) -> QuerySet[Client]:
    """The e-service clients of the organisations in the actor's scope as a local administrator
    or a federation operator; pending ones first, then by name."""
    roots = [*scope_roots(actor, Role.LOCAL_ADMIN), *scope_roots(actor, Role.FEDERATION_OPERATOR)]
    if not roots:
        return Client.objects.none()
    return (Client.objects.filter(subtree_q(roots, "organisation__")).select_related("organisation")
            .order_by(Case(When(state=ClientState.PENDING, then=0), default=1), "name"))


def client_get_for_actor(actor: Actor, client_id: uuid.UUID) -> Client:
    """One client of `client_list_for_actor`; NotFound for a missing one and one outside the
    scope alike."""
    return get_or_not_found(client_list_for_actor(actor), client_id)

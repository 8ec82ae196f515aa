"""Reads of federated login (the IdPs offered on the discovery page and shown to the platform's
administrators) and of the OpenID Connect provider's clients."""

from __future__ import annotations

import uuid

from django.db.models import Case, Max, Min, Q, QuerySet, When
from django.utils import timezone

from apps.commissions.models import Role
from apps.commissions.policies import scope_roots
from apps.core.errors import NotFound
from apps.core.queries import get_or_not_found
from apps.federation import policies
from apps.federation.models import AccessToken, Client, IdentityProvider, RefreshToken
from apps.federation.oidc import claims
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


def authorisations_for_person(person_id: uuid.UUID) -> list[dict[str, object]]:
    """The e-services the person has authorised and that still hold a usable token of theirs (an
    unexpired access token or an unrevoked refresh token), newest use first: `client`, its
    `organisation`, `receives` (what its granted scopes let it learn about the person, as the
    consent screen describes it: `claims.CLAIM_LABELS`, lazy translations), `first_authorised`
    (the code of its oldest usable token, UTC) and `last_used` (the newest token issued or
    refreshed, UTC)."""
    now = timezone.now()
    usable = AccessToken.objects.filter(person_id=person_id).filter(
        Q(expires__gt=now) | Q(refresh_token__isnull=False, refresh_token__revoked__isnull=True))
    clients = Client.objects.filter(pk__in=usable.values("application_id")).select_related(
        "organisation")
    # Since the code of the oldest usable token: an authorisation revoked and given again
    # starts anew.
    first = dict(usable.values_list("application_id").annotate(Min("grant__created")))
    last = dict(usable.values_list("application_id").annotate(Max("created")))
    scopes: dict[uuid.UUID, set[str]] = {}
    for application_id, scope in usable.values_list("application_id", "scope"):
        scopes.setdefault(application_id, set()).update(scope.split())
    found = [{"client": client, "organisation": client.organisation,
              "receives": [claims.CLAIM_LABELS[name] for name in
                           claims.releasable(client, sorted(scopes.get(client.pk, set())))],
              "first_authorised": first.get(client.pk), "last_used": last.get(client.pk)}
             for client in clients]
    found.sort(key=lambda item: str(item["last_used"] or ""), reverse=True)
    return found


def authorisation_covers(person_id: uuid.UUID, client: Client, scopes: list[str]) -> bool:
    """True when the person has authorised `client` for every one of `scopes` and the
    authorisation still stands: one of its tokens for an account of the person is usable (an
    unexpired access token, or an unrevoked refresh token whose access token is still recorded)
    and was granted all of `scopes` (what `authorisations_for_person` lists; revoking it on "My
    e-services", a suspension of the client and the other revocations of
    docs/identity-provider.md, "Revocation", end it)."""
    wanted = set(scopes)
    now = timezone.now()
    granted = [*AccessToken.objects.filter(person_id=person_id, application=client,
                                           expires__gt=now).values_list("scope", flat=True),
               *RefreshToken.objects.filter(user__person_id=person_id, application=client,
                                            revoked__isnull=True, access_token__isnull=False)
               .values_list("access_token__scope", flat=True)]
    return any(wanted <= set(scope.split()) for scope in granted)


def authorised_client_get(person_id: uuid.UUID, client_id: uuid.UUID) -> Client:
    """One client of `authorisations_for_person`. Raises NotFound for any other."""
    for item in authorisations_for_person(person_id):
        client = item["client"]
        if isinstance(client, Client) and client.pk == client_id:
            return client
    raise NotFound()


def client_system(client_id: str) -> tuple[str, uuid.UUID | None]:
    """The registered name of the client with OAuth `client_id` and the care provider its
    organisation belongs to (for the rules service: a system speaks only for the staff of its own
    care provider, and its decisions' audit rows name it). `(client_id, None)` when it is gone."""
    row = Client.objects.filter(client_id=client_id).values_list(
        "name", "organisation__care_provider_id").first()
    return (row[0], row[1]) if row else (client_id, None)


def client_organisation(client_id: str) -> tuple[str, uuid.UUID] | None:
    """The registered name and organisation of the approved client with OAuth `client_id` (the
    inbound SCIM server acts as that system, within that organisation's subtree:
    docs/scim-inbound.md), or None when it is unknown, not approved or suspended."""
    row = Client.objects.filter(client_id=client_id, state=ClientState.APPROVED).values_list(
        "name", "organisation_id").first()
    return (row[0], row[1]) if row else None

"""Revoking the OpenID Connect provider's tokens when what they carry ends (docs/identity-provider.md,
"Revocation"): the portal's rule that removing an entitlement ends what it entitled, in the
transaction of the change. Each service checks its policy, runs in one transaction and writes one
audit event, never with a token value in it.
"""

from __future__ import annotations

from typing import cast

from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from apps.audit.services import record
from apps.authn.models import UserSession
from apps.commissions.models import Commission
from apps.core.calls import service
from apps.federation import audit, policies
from apps.federation.models import AccessToken, Client, RefreshToken
from apps.identities.actors import Actor
from apps.identities.models import Person, User


def carrying(target: Model) -> Q:
    """The access tokens that carry `target`: a person's or an account's (every token issued to
    them), a login session's, a commission's, or a client's (all it holds). Raises TypeError for
    another model."""
    if isinstance(target, Person):
        return Q(person=target)
    if isinstance(target, User):
        return Q(user=target)
    if isinstance(target, UserSession):
        return Q(session=target)
    if isinstance(target, Commission):
        return Q(commission=target)
    if isinstance(target, Client):
        return Q(application=target)
    raise TypeError(f"No tokens carry a {type(target).__name__}.")


def revoke(tokens: QuerySet[AccessToken], refresh: QuerySet[RefreshToken]) -> int:
    """Revoke `refresh` and the refresh tokens of `tokens` (RFC 7009 2.1: a refresh token's
    revocation ends its grant), then delete `tokens`, so introspection answers `active: false`
    (RFC 7662 2.2) and userinfo refuses them at once. Returns how many access tokens ended."""
    now = timezone.now()
    RefreshToken.objects.filter(
        Q(access_token__in=tokens) | Q(pk__in=refresh.values("pk")), revoked__isnull=True,
    ).update(revoked=now)
    count, _ = AccessToken.objects.filter(pk__in=tokens.values("pk")).delete()
    return count


@service
def tokens_revoke(*, actor: Actor, target: Model, reason: str) -> int:
    """End every token that carries `target` (`carrying`), as the consequence of a change the
    caller made as `actor` in its own transaction: a login session or all of a person's sessions
    ended, a commission ended, an account deactivated, a client suspended. Audits
    `oauth_tokens.revoked` on `target` with how many and `reason` when any ended. Returns how
    many access tokens ended."""
    policies.require_revoke_carried_tokens(actor)
    with transaction.atomic():
        tokens = AccessToken.objects.filter(carrying(target))
        refresh = RefreshToken.objects.none()
        if isinstance(target, Person | User | Client):
            field = {Person: "user__person", User: "user", Client: "application"}[type(target)]
            refresh = RefreshToken.objects.filter(**{field: target})
        ended = revoke(tokens, refresh)
        if ended:
            record(actor=actor, action=audit.TOKENS_REVOKED.code, target=target,
                   changes={"access_tokens_ended": [None, ended]}, reason=reason)
    return ended


@service
def token_issued(*, actor: Actor, client: Client, person: Person | None, grant_type: str,
                 scope: str) -> None:
    """Audit one token response of the token endpoint (OWASP ASVS 5.0 V16): `oauth_token.issued`
    for a code exchange or client credentials, `oauth_token.refreshed` for a refresh; on the
    client, about `person` (None for client credentials), with the grant type and scope, never a
    token value. `actor` is the user the tokens are for, or the OIDC provider acting for a client
    (client credentials)."""
    policies.require_token_event(actor, person)
    action = audit.TOKEN_REFRESHED if grant_type == "refresh_token" else audit.TOKEN_ISSUED
    # Inside the token endpoint's transaction without a savepoint of its own: a failure here
    # rolls the whole token response back.
    with transaction.atomic(savepoint=False):
        record(actor=actor, action=action.code, target=client, subject=person,
               changes={"grant_type": [None, grant_type], "scope": [None, scope]})


@service
def token_revoked_by_client(*, actor: Actor, client: Client) -> None:
    """Audit `oauth_token.revoked`: `client` asked to revoke one of its tokens (RFC 7009), acted
    by the OIDC provider (the client has no identity of its own in the audit log)."""
    policies.require_token_event(actor, None)
    with transaction.atomic():
        record(actor=actor, action=audit.TOKEN_REVOKED.code, target=client)


@service
def consent_given(*, actor: Actor, client: Client, scopes: list[str]) -> None:
    """Audit `oauth_consent.given`: the user `actor` let `client` (not first party) have
    `scopes` on the consent screen."""
    if not isinstance(actor, User):
        raise TypeError("consent_given() needs the consenting user as actor")
    policies.require_token_event(actor, actor.person)
    with transaction.atomic():
        record(actor=actor, action=audit.CONSENT_GIVEN.code, target=client, subject=actor.person,
               changes={"scopes": [None, sorted(scopes)]})


@service
def authorisation_revoke(*, actor: Actor, client: Client) -> int:
    """The user `actor` withdraws `client`'s authorisation ("My e-services"): every token the
    client holds for any account of their person ends at once. Audits `oauth_authorisation.revoked`
    on the client about the person. Returns how many access tokens ended. Raises Forbidden for an
    actor that is not a user."""
    policies.require_own_authorisation(actor)
    user = cast(User, actor)  # the policy let only a user through
    with transaction.atomic():
        tokens = AccessToken.objects.filter(person_id=user.person_id, application=client)
        refresh = RefreshToken.objects.filter(user__person_id=user.person_id, application=client)
        ended = revoke(tokens, refresh)
        record(actor=actor, action=audit.AUTHORISATION_REVOKED.code, target=client,
               subject=user.person, changes={"access_tokens_ended": [None, ended]})
    return ended

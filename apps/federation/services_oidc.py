"""Writes of the OpenID Connect provider's clients (docs/identity-provider.md, "Clients"): an
organisation's administrators register, change, suspend and re-key their e-service clients; a
federation operator approves them. Each service checks its policy, runs in one transaction with
the client row locked and writes one audit event, never with a secret value in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.audit.services import atomic_record_failure, record
from apps.core.calls import service
from apps.core.errors import Conflict, ValidationFailed
from apps.federation import audit, policies, services_tokens
from apps.federation.models import Client
from apps.federation.oidc import secrets
from apps.federation.oidc.vocabulary import ClientState, ClientType
from apps.identities.actors import Actor
from apps.organisations.models import Organisation


@dataclass(frozen=True)
class Registered:
    """A client and its secret in clear, to be shown once ("" for a public client)."""

    client: Client
    secret: str


def _clean(client: Client) -> None:
    """`Client.clean` and the field checks, as a ValidationFailed naming the first field."""
    try:
        client.full_clean(exclude=["client_id", "client_secret", "user", "organisation"])
    except DjangoValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ValidationFailed(messages[0], code="oauth_client.invalid", field=field) from exc


def _locked(client: Client) -> Client:
    return Client.objects.select_for_update().select_related("organisation").get(pk=client.pk)


@service
def client_register(*, actor: Actor, organisation: Organisation, name: str, contact_name: str,
                    contact_email: str, client_type: str, grant_type: str,
                    redirect_uris: list[str], post_logout_redirect_uris: list[str],
                    allowed_scopes: list[str], allowed_claims: list[str], algorithm: str,
                    first_party: bool) -> Registered:
    """Register a client of `organisation`, pending a federation operator's approval. A
    confidential client gets a new secret (`secrets.generate`, returned once, stored only as its
    keyed hash). Raises NotFound outside the actor's scope, ValidationFailed (with the field) for
    a registration the rules refuse (`Client.clean`: redirect URIs and post-logout redirect URIs,
    grant and client type, scopes, claims). Audits `oauth_client.registered`."""
    policies.require_manage_client(actor, organisation)
    secret = secrets.generate() if client_type == ClientType.CONFIDENTIAL else ""
    client = Client(
        organisation=organisation, name=name.strip(), contact_name=contact_name.strip(),
        contact_email=contact_email.strip(), client_type=client_type,
        authorization_grant_type=grant_type, redirect_uris=" ".join(redirect_uris),
        post_logout_redirect_uris=" ".join(post_logout_redirect_uris),
        allowed_scopes=list(allowed_scopes), allowed_claims=list(allowed_claims),
        algorithm=algorithm, first_party=first_party, state=ClientState.PENDING,
        client_secret=secrets.digest(secret) if secret else "")
    _clean(client)
    with transaction.atomic():
        client.save()
        record(actor=actor, action=audit.CLIENT_REGISTERED.code, target=client,
               organisation=organisation, changes={
                   "name": [None, client.name], "client_type": [None, client_type],
                   "grant_type": [None, grant_type], "redirect_uris": [None, redirect_uris],
                   "post_logout_redirect_uris": [None, post_logout_redirect_uris],
                   "allowed_scopes": [None, allowed_scopes],
                   "allowed_claims": [None, allowed_claims], "algorithm": [None, algorithm],
                   "first_party": [None, first_party], "contact_email": [None, contact_email]})
    return Registered(client, secret)


def widens(client: Client, wanted: dict[str, str]) -> bool:
    """True when `wanted` (`client_update`'s new values, URIs space-separated) adds a redirect
    URI or a post-logout redirect URI that `client` does not have: a new address the portal
    would send users, codes or logouts to, which its approval did not cover."""
    return any(set(wanted[field].split()) - set(getattr(client, field).split())
               for field in ("redirect_uris", "post_logout_redirect_uris"))


@service
def client_update(*, actor: Actor, client: Client, contact_name: str, contact_email: str,
                  redirect_uris: list[str], post_logout_redirect_uris: list[str]) -> Client:
    """Change a client's contact, redirect URIs and post-logout redirect URIs (checked as at
    registration). A change that widens an approved client (adds a redirect URI or a
    post-logout redirect URI), made by an actor who may not approve it, puts it back to
    `pending`: it stops working until a federation operator approves it again, so the operator's
    approval always covers every address it may send users to (`widens`; docs/decisions.md).
    Removing URIs and changing the contact keep the state. Raises NotFound outside the actor's
    scope, ValidationFailed for refused values. Audits `oauth_client.updated` with what changed,
    the state too."""
    policies.require_manage_client(actor, client.organisation)
    with transaction.atomic():
        locked = _locked(client)
        wanted = {"contact_name": contact_name.strip(), "contact_email": contact_email.strip(),
                  "redirect_uris": " ".join(redirect_uris),
                  "post_logout_redirect_uris": " ".join(post_logout_redirect_uris)}
        if (locked.state == ClientState.APPROVED and widens(locked, wanted)
                and not policies.can_approve_client(actor, locked.organisation)):
            wanted["state"] = ClientState.PENDING
        changes = {key: [getattr(locked, key), value] for key, value in wanted.items()
                   if getattr(locked, key) != value}
        for key, value in wanted.items():
            setattr(locked, key, value)
        _clean(locked)
        if changes:
            locked.save(update_fields=[*changes, "updated"])
            record(actor=actor, action=audit.CLIENT_UPDATED.code, target=locked,
                   organisation=locked.organisation, changes=changes)
    return locked


@service
def client_approve(*, actor: Actor, client: Client) -> Client:
    """A federation operator approves a pending or suspended client: it may authorize users and
    get tokens from now on. Raises NotFound outside the operator's scope, Conflict when it is
    approved already. Audits `oauth_client.approved`."""
    policies.require_approve_client(actor, client.organisation)
    with transaction.atomic():
        locked = _locked(client)
        if locked.state == ClientState.APPROVED:
            raise Conflict(_("The client is approved already."), code="oauth_client.approved")
        before = locked.state
        locked.state = ClientState.APPROVED
        locked.save(update_fields=["state", "updated"])
        record(actor=actor, action=audit.CLIENT_APPROVED.code, target=locked,
               organisation=locked.organisation, changes={"state": [before, locked.state]})
    return locked


@service
def client_suspend(*, actor: Actor, client: Client, reason: str) -> Client:
    """Suspend a client (its administrators or its federation operators): its next
    authorization or token request is refused (`Client.is_usable`) and every token it holds ends
    in the same transaction (`services_tokens.tokens_revoke`). Raises NotFound outside the
    scope, Conflict when it is suspended already. Audits `oauth_client.suspended` with `reason`."""
    policies.require_suspend_client(actor, client.organisation)
    with transaction.atomic():
        locked = _locked(client)
        if locked.state == ClientState.SUSPENDED:
            raise Conflict(_("The client is suspended already."), code="oauth_client.suspended")
        before = locked.state
        locked.state = ClientState.SUSPENDED
        locked.save(update_fields=["state", "updated"])
        record(actor=actor, action=audit.CLIENT_SUSPENDED.code, target=locked,
               organisation=locked.organisation, changes={"state": [before, locked.state]},
               reason=reason)
        services_tokens.tokens_revoke(actor=actor, target=locked, reason=reason)
    return locked


@service
def client_secret_rotate(*, actor: Actor, client: Client) -> Registered:
    """Give a confidential client a new secret (returned once); the old one stops working at
    once. Raises NotFound outside the scope, ValidationFailed for a public client. Audits
    `oauth_client.secret_rotated` (the secret itself masked)."""
    policies.require_manage_client(actor, client.organisation)
    if client.client_type != ClientType.CONFIDENTIAL:
        raise ValidationFailed(_("A public client has no secret."), code="oauth_client.public")
    secret = secrets.generate()
    with transaction.atomic():
        locked = _locked(client)
        locked.client_secret = secrets.digest(secret)
        locked.save(update_fields=["client_secret", "updated"])
        record(actor=actor, action=audit.CLIENT_SECRET_ROTATED.code, target=locked,
               organisation=locked.organisation, changes={"secret": ["…", "…"]})
    return Registered(locked, secret)


@service
def client_authentication_failed(*, actor: Actor, client: Client) -> None:
    """Record that a request at the token, introspection or revocation endpoint named `client`
    with a wrong or missing secret (OWASP ASVS 5.0 V16: failed authentication is logged), in its
    own transaction. The secret tried is never recorded."""
    policies.require_oidc_provider(actor)
    atomic_record_failure(actor=actor, action=audit.CLIENT_AUTH_FAILED.code, target=client,
                          organisation=client.organisation)


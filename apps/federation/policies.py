"""Who may act in federated login and on the e-service clients of the OpenID Connect provider.
Deny by default."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.commissions.models import Role
from apps.commissions.policies import in_scope, scope_roots
from apps.core.calls import policy
from apps.core.errors import Forbidden, NotFound
from apps.federation.actors import OIDC_PROVIDER, SAML_SP
from apps.identities.actors import Actor
from apps.identities.models import Person, User
from apps.organisations.models import Organisation


@policy
def require_service_provider(actor: Actor) -> None:
    """Only the portal's SAML2 service provider acts on assertions and IdP metadata.
    Raises Forbidden (`federation.forbidden`)."""
    if actor != SAML_SP:
        raise Forbidden(_("Only the portal's federated login may do this."),
                        code="federation.forbidden")


def can_view_identity_providers(actor: Actor) -> bool:
    """Administrators of the platform: a local administrator whose scope holds a root of the
    organisation tree (docs/decisions.md, "Federated login")."""
    return any(root.parent_id is None for root in scope_roots(actor))


@policy
def require_view_identity_providers(actor: Actor) -> None:
    """Raises NotFound unless `can_view_identity_providers` (the page's existence never leaks)."""
    if not can_view_identity_providers(actor):
        raise NotFound()


def _in_role_scope(actor: Actor, organisation: Organisation, role: str) -> bool:
    return in_scope(organisation, scope_roots(actor, role))


def can_manage_client(actor: Actor, organisation: Organisation) -> bool:
    """A local administrator of `organisation` (or of an organisation above it) registers, edits,
    suspends and replaces the secret of its e-service clients."""
    return _in_role_scope(actor, organisation, Role.LOCAL_ADMIN)


@policy
def require_manage_client(actor: Actor, organisation: Organisation) -> None:
    """Raises NotFound unless `can_manage_client` (a client outside the scope is "not found")."""
    if not can_manage_client(actor, organisation):
        raise NotFound()


def can_approve_client(actor: Actor, organisation: Organisation) -> bool:
    """A federation operator over `organisation` approves and suspends its clients."""
    return _in_role_scope(actor, organisation, Role.FEDERATION_OPERATOR)


@policy
def require_approve_client(actor: Actor, organisation: Organisation) -> None:
    """Raises NotFound unless `can_approve_client`."""
    if not can_approve_client(actor, organisation):
        raise NotFound()


@policy
def require_suspend_client(actor: Actor, organisation: Organisation) -> None:
    """The client's own administrators and its federation operators may suspend it. Raises
    NotFound otherwise."""
    if not (can_manage_client(actor, organisation) or can_approve_client(actor, organisation)):
        raise NotFound()


@policy
def require_oidc_provider(actor: Actor) -> None:
    """Only the portal's OpenID Connect provider records what happens at its endpoints. Raises
    Forbidden (`federation.forbidden`)."""
    if actor != OIDC_PROVIDER:
        raise Forbidden(_("Only the portal's OpenID Connect provider may do this."),
                        code="federation.forbidden")


@policy
def require_revoke_carried_tokens(actor: Actor) -> None:
    """Ending the tokens that carry a session, commission, account or client that another
    service ended: open to the actor of that change, whoever they are (it only takes access away,
    and the change that asks for it passed its own policy), and to the OIDC provider. Raises
    Forbidden without an actor."""
    if actor is None:
        raise Forbidden(_("Only a known actor may revoke tokens."), code="oauth_tokens.forbidden")


@policy
def require_token_event(actor: Actor, person: Person | None) -> None:
    """Token endpoint events are acted by the person they concern (a code exchange, a refresh,
    consent) or by the OIDC provider (a client without a user). Raises Forbidden otherwise."""
    if actor == OIDC_PROVIDER:
        return
    if person is not None and isinstance(actor, User) and actor.person_id == person.pk:
        return
    raise Forbidden(_("Only the person concerned or the OpenID Connect provider may do this."),
                    code="oauth_tokens.forbidden")


@policy
def require_own_authorisation(actor: Actor) -> None:
    """A user withdraws only their own authorisations (the service filters by their person).
    Raises Forbidden for any other actor."""
    if not isinstance(actor, User):
        raise Forbidden(_("Only the person concerned or the OpenID Connect provider may do this."),
                        code="oauth_tokens.forbidden")

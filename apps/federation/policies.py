"""Who may act in federated login. Deny by default."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.commissions.policies import scope_roots
from apps.core.calls import policy
from apps.core.errors import Forbidden, NotFound
from apps.federation.actors import SAML_SP
from apps.identities.actors import Actor


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

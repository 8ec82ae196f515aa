"""Receivers of lower apps' signals (connected in `FederationConfig.ready`): the tokens of the
OpenID Connect provider end with what they carry, in the transaction of the change
(`services_tokens.tokens_revoke`; docs/identity-provider.md, "Revocation")."""

from __future__ import annotations

from typing import Any

from apps.authn import services as authn
from apps.authn.models import UserSession
from apps.commissions.models import Commission
from apps.federation import actors, services_tokens
from apps.identities.actors import Actor
from apps.identities.models import Person, User
from apps.issuance.models import MobileEID


def session_ended(sender: Any, *, actor: Actor, user_session: UserSession, reason: str,
                  **kwargs: Any) -> None:
    """`authn.signals.session_ended` (logout, "end session"): the session's tokens end."""
    services_tokens.tokens_revoke(actor=actor, target=user_session, reason=f"session {reason}")


def sessions_ended(sender: Any, *, person: Person, user: User | None = None,
                   **kwargs: Any) -> None:
    """`identities.signals.sessions_ended` (a new session epoch: "log out everywhere", an account
    deactivated): the tokens of the person's accounts, or of the one account, end. The signal
    names no actor; the OIDC provider acts, next to the audited change that sent it."""
    services_tokens.tokens_revoke(actor=actors.OIDC_PROVIDER, target=user or person,
                                  reason="sessions ended")


def commission_ended(sender: Any, *, actor: Actor, commission: Commission, reason: str,
                     **kwargs: Any) -> None:
    """`commissions.signals.commission_ended`: the tokens that carry the commission end."""
    services_tokens.tokens_revoke(actor=actor, target=commission, reason=reason)


def eid_revoked(sender: Any, *, actor: Actor, eid: MobileEID, **kwargs: Any) -> None:
    """`issuance.signals.eid_revoked`: the login sessions the e-ID logged in or stepped up end
    (reason `eid`), and with them their tokens (`authn.signals.session_ended`, above), as the
    revoking `actor`, in the revocation's transaction."""
    authn.sessions_end_for_eid(actor=actor, person=eid.person, eid_serial=eid.serial)

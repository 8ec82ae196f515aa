"""Tokens end with what they carry, in the transaction of the change (docs/identity-provider.md,
"Revocation"): after a logout, "log out everywhere", a commission ending, an account deactivated
or the client suspended, the access token is refused at userinfo, introspection says it is not
active, and the refresh token is refused. Over real HTTP with Authlib."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from authlib.integrations.base_client.errors import OAuthError

from apps.audit.models import AuditEvent
from apps.authn import services as authn
from apps.authn.models import UserSession
from apps.commissions import services as commissions
from apps.core.actors import SYSTEM
from apps.federation import services_oidc
from apps.federation.models import AccessToken
from tests.federation.oidc_support import RelyingParty, browser, register, use_provider, works

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portal(live_server: Any, settings: Any, tree: Any) -> str:
    use_provider(settings, live_server.url)
    return str(live_server.url)


def logout(user: Any, hospital_admin: Any, client: Any) -> None:
    session = UserSession.objects.get(user=user, ended_at__isnull=True)
    authn.session_end(actor=user, user_session=session, reason=UserSession.EndReason.LOGOUT)


def everywhere(user: Any, hospital_admin: Any, client: Any) -> None:
    authn.sessions_end_all(actor=user, person=user.person)


def commission_ends(user: Any, hospital_admin: Any, client: Any) -> None:
    commission = user.person.employees.get().commissions.get()
    commissions.commission_end(actor=hospital_admin, commission=commission, reason="moved")


def account_deactivated(user: Any, hospital_admin: Any, client: Any) -> None:
    commissions.account_deactivate(actor=hospital_admin, user=user, reason="left")


def client_suspended(user: Any, hospital_admin: Any, client: Any) -> None:
    services_oidc.client_suspend(actor=SYSTEM, client=client, reason="incident")


@pytest.mark.parametrize("change", [logout, everywhere, commission_ends, account_deactivated,
                                    client_suspended])
def test_tokens_end_with_what_they_carry(portal: str, tree: Any, nurse: Any, hospital_admin: Any,
                                         change: Callable[..., None]) -> None:
    user = nurse[0]
    rp = RelyingParty(portal, register(tree["cardio"]))
    token = rp.login(browser(portal, user))
    assert works(rp, token) == (200, True)
    change(user, hospital_admin, rp.registered.client)
    assert works(rp, token) == (401, False)
    assert not AccessToken.objects.exists()
    with pytest.raises(OAuthError) as refused:
        rp.session.refresh_token(rp.discovery["token_endpoint"],
                                 refresh_token=token["refresh_token"])
    assert refused.value.error in ("invalid_grant", "invalid_client")
    event = AuditEvent.objects.get(action="oauth_tokens.revoked")
    assert event.changes["access_tokens_ended"] == [None, 1]
    assert token["access_token"] not in str(event.changes)


def test_another_session_keeps_its_tokens(portal: str, tree: Any, nurse: Any) -> None:
    user = nurse[0]
    rp = RelyingParty(portal, register(tree["cardio"]))
    first = rp.login(browser(portal, user))
    second = rp.login(browser(portal, user))
    carried = AccessToken.objects.order_by("created").first()
    assert carried is not None and carried.session is not None
    authn.session_end(actor=user, user_session=carried.session,
                      reason=UserSession.EndReason.LOGOUT)
    assert works(rp, first) == (401, False)
    assert works(rp, second) == (200, True)

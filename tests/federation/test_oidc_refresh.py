"""The refresh grant (RFC 6749 section 6) as the portal serves it: entitlement checked at use,
rotation with no new ID token (OIDC Core 12.2; docs/decisions.md), and the SQL statements of one
refresh pinned, so a regression is noticed (the figures are `make bench`'s). Refreshes of one
token at once: tests/concurrency/test_oidc.py."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.test import Client as DjangoClient
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.authn.models import UserSession
from apps.commissions.models import Commission
from apps.federation.models import AccessToken, Client
from apps.federation.oidc.vocabulary import ClientState
from apps.identities.models import User
from tests.federation.oidc_support import RelyingParty, browser, register, use_provider

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portal(live_server: Any, settings: Any, tree: Any) -> str:
    use_provider(settings, live_server.url)
    return str(live_server.url)


def refresh(portal: str, rp: RelyingParty, refresh_token: str) -> requests.Response:
    return requests.post(f"{portal}/oauth2/token/",
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                         auth=(rp.registered.client_id, rp.registered.secret), timeout=30)


@pytest.mark.parametrize("ended", ["session", "commission", "account", "client"])
def test_what_a_refresh_token_carries_is_checked_at_use(
        portal: str, tree: Any, nurse: Any, ended: str) -> None:
    # Each is ended behind the services' back (no revocation of the tokens), so only the check
    # at use refuses the refresh.
    rp = RelyingParty(portal, register(tree["cardio"]))
    token = rp.login(browser(portal, nurse[0]))
    carried = AccessToken.objects.get()
    now = timezone.now()
    if ended == "session":
        UserSession.objects.filter(pk=carried.session_id).update(
            ended_at=now, end_reason=UserSession.EndReason.IDLE)
    elif ended == "commission":
        Commission.objects.filter(pk=carried.commission_id).update(
            valid_until=now - timedelta(seconds=1))
    elif ended == "account":
        User.objects.filter(pk=nurse[0].pk).update(is_active=False)
    else:
        Client.objects.filter(pk=rp.registered.client.pk).update(state=ClientState.SUSPENDED)
    answer = refresh(portal, rp, token["refresh_token"])
    assert answer.status_code in (400, 401)
    assert answer.json()["error"] == ("invalid_client" if ended == "client" else "invalid_grant")
    assert not AuditEvent.objects.filter(action="oauth_token.refreshed").exists()


def test_a_refresh_gives_a_new_pair_without_an_id_token_and_ends_the_old_access_token(
        portal: str, tree: Any, nurse: Any, django_assert_num_queries: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]))
    first = rp.login(browser(portal, nurse[0]))
    auth = base64.b64encode(f"{rp.registered.client_id}:{rp.registered.secret}".encode()).decode()
    # In this thread (the live server's threads have their own connections): BEGIN; the client;
    # the refresh token FOR UPDATE with its user, person, access token, code, session and
    # commission; the access token updated; the used refresh token revoked; the new one
    # inserted; the account's active check of the audit service; the audit row; COMMIT.
    with django_assert_num_queries(9):
        answer = DjangoClient().post(
            "/oauth2/token/", {"grant_type": "refresh_token",
                               "refresh_token": first["refresh_token"]},
            HTTP_AUTHORIZATION=f"Basic {auth}")
    assert answer.status_code == 200, answer.content
    second = answer.json()
    assert "id_token" not in second  # OIDC Core 12.2
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    introspect = rp.discovery["introspection_endpoint"]
    credentials = (rp.registered.client_id, rp.registered.secret)
    assert not requests.post(introspect, data={"token": first["access_token"]},
                             auth=credentials, timeout=30).json()["active"]
    assert requests.post(introspect, data={"token": second["access_token"]},
                         auth=credentials, timeout=30).json()["active"]
    event = AuditEvent.objects.get(action="oauth_token.refreshed")
    assert event.actor_id == nurse[0].pk
    assert second["refresh_token"] not in str(event.changes)
    assert first["refresh_token"] not in str(event.changes)
    # Authlib, the relying party, refreshes again with the new refresh token.
    third = rp.session.refresh_token(rp.discovery["token_endpoint"],
                                     refresh_token=second["refresh_token"])
    assert third["refresh_token"] != second["refresh_token"]

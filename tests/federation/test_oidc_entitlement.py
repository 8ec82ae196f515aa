"""Entitlement is checked when an authorization code is used, not only when it is issued: a code
whose login session ended, whose commission ended (by a service or by its own end date) or whose
account was deactivated in the 60 seconds it lives gives no token; an access token of a
commission that ran out releases no Sambi claims (docs/identity-provider.md, "Flows")."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client as DjangoClient
from django.utils import timezone

from apps.authn import services as authn
from apps.authn.models import UserSession
from apps.commissions import services as commissions
from apps.commissions.models import Commission
from apps.core.actors import SYSTEM
from apps.federation.oidc.claims import COMMISSION_SCOPE, SAMBI
from tests.conftest import login_session
from tests.federation.oidc_support import REDIRECT_URI, Registered, register, s256, use_provider

pytestmark = pytest.mark.django_db
VERIFIER = "e" * 64
HSA = SAMBI + "commissionHsaId"


@pytest.fixture(autouse=True)
def provider(settings: Any) -> None:
    use_provider(settings, "http://testserver")


@pytest.fixture
def registered(tree: Any) -> Registered:
    return register(tree["cardio"], scopes=("openid", COMMISSION_SCOPE), claims=("sub", HSA))


def code_of(browser: Any, registered: Registered) -> str:
    answer = browser.get("/oauth2/authorize/?" + urlencode({
        "response_type": "code", "client_id": registered.client_id, "redirect_uri": REDIRECT_URI,
        "scope": f"openid {COMMISSION_SCOPE}", "state": "st", "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256"}))
    assert answer.status_code == 302
    return parse_qs(urlsplit(answer["Location"]).query)["code"][0]


def redeem(registered: Registered, code: str) -> Any:
    pair = f"{registered.client_id}:{registered.secret}".encode()
    return DjangoClient().post("/oauth2/token/", {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER}, HTTP_AUTHORIZATION="Basic " + base64.b64encode(pair).decode())


@pytest.mark.parametrize("ended", ["logout", "e-ID revoked", "everywhere", "commission",
                                   "commission by its end date", "account"])
def test_a_code_gives_no_token_once_what_it_carries_has_ended(
        registered: Registered, nurse: Any, hospital_admin: Any, ended: str) -> None:
    browser = login_session(DjangoClient(), nurse[0])
    code = code_of(browser, registered)
    commission = Commission.objects.get(employee=nurse[1])
    if ended == "logout":
        browser.post("/logout/")
    elif ended == "e-ID revoked":  # what revoking the e-ID that logged the session in does
        authn.session_end(actor=SYSTEM, user_session=UserSession.objects.get(),
                          reason=UserSession.EndReason.EID)
    elif ended == "everywhere":
        authn.sessions_end_all(actor=nurse[0], person=nurse[0].person)
    elif ended == "commission":
        commissions.commission_end(actor=hospital_admin, commission=commission, reason="Ended")
    elif ended == "commission by its end date":
        Commission.objects.filter(pk=commission.pk).update(
            valid_until=timezone.now() - timedelta(seconds=1))
    else:
        commissions.account_deactivate(actor=hospital_admin, user=nurse[0], reason="Left")
    answer = redeem(registered, code)
    # RFC 6749 5.2 JSON, never the portal's HTML page (which would tell the account's state).
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_a_commission_past_its_end_date_releases_no_claims(registered: Registered,
                                                           nurse: Any) -> None:
    token = redeem(registered, code_of(login_session(DjangoClient(), nurse[0]), registered))
    bearer = f"Bearer {token.json()['access_token']}"
    assert HSA in DjangoClient().get("/oauth2/userinfo/", HTTP_AUTHORIZATION=bearer).json()
    Commission.objects.filter(employee=nurse[1]).update(
        valid_until=timezone.now() - timedelta(seconds=1))
    answer = DjangoClient().get("/oauth2/userinfo/", HTTP_AUTHORIZATION=bearer)
    assert answer.status_code == 200 and HSA not in answer.json()

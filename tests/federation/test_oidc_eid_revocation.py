"""Revoking a mobile e-ID ends what it entitled, in the revocation's transaction: the login
sessions it logged in or stepped up (reason `eid`, shown on "My sessions") and the OIDC tokens
they carry (docs/identity-provider.md, "Revocation"; docs/sessions.md). A real e-ID login
through the pages (the app's signature with the wallet's key), a code + PKCE flow with Authlib
as the relying party, and the revocation by the owner on "My e-IDs" or by an issuer."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db import connection
from django.test import Client as DjangoClient

from apps.audit.models import AuditEvent
from apps.authn.models import UserSession
from apps.core.loa import LOA2
from apps.identities.models import User
from apps.issuance import services as issuance
from apps.issuance.models import MobileEID, OutOfBandRequest
from tests.conftest import login_session
from tests.federation.oidc_support import RelyingParty, register, use_provider, works
from tests.issuance.oob_support import Wallet, activate, approve

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portal(live_server: Any, settings: Any, tree: Any, issuing_ca: Any) -> str:
    use_provider(settings, live_server.url)
    return str(live_server.url)


def start(client: DjangoClient, path: str = "/login/mobile-eid/", **data: str) -> OutOfBandRequest:
    """Start an out-of-band request on the page at `path`; the request the page shows."""
    page = client.post(path, data)
    assert page.status_code == 200
    found = re.search(r"EIDAUTH1\.([A-Za-z0-9_-]{32})", page.content.decode())
    assert found
    return OutOfBandRequest.objects.get(reference=found.group(1))


def eid_login(wallet: Wallet) -> DjangoClient:
    """A browser logged in with the mobile e-ID: started, approved in the app, completed."""
    client = DjangoClient(HTTP_USER_AGENT="pytest", HTTP_ACCEPT_LANGUAGE="en")
    approve(wallet, start(client))
    assert client.get("/login/mobile-eid/wait/").status_code == 302
    return client


def password_login(user: User) -> DjangoClient:
    """A browser logged in with password + TOTP (LoA 2)."""
    return login_session(DjangoClient(HTTP_ACCEPT_LANGUAGE="en"), user, loa=LOA2,
                         methods=("pwd", "otp"), idp=None)


def over_http(client: DjangoClient) -> requests.Session:
    """The same browser (its session cookie) for the live server."""
    found = requests.Session()
    found.cookies.set(settings.SESSION_COOKIE_NAME,
                      client.cookies[settings.SESSION_COOKIE_NAME].value)
    found.headers["Accept-Language"] = "en"
    return found


def logged_in(client: DjangoClient) -> bool:
    """True when "My sessions" opens (a logged-out browser is sent to the login page)."""
    return client.get("/my/sessions/").status_code == 200


def revoke_page(client: DjangoClient, wallet: Wallet) -> None:
    eid = MobileEID.objects.get(serial=wallet.serial)
    answer = client.post(f"/eids/{eid.pk}/revoke/", {"reason": "Phone lost"})
    assert answer.status_code == 302, answer.content.decode()[:500]


@pytest.mark.parametrize("by", ["owner", "issuer", "administrator"])
def test_revoking_the_eid_ends_its_sessions_and_their_tokens(
        portal: str, tree: Any, nurse: Any, issuer: User, hospital_admin: User, by: str) -> None:
    nina = nurse[0]
    wallet, other = activate(nina.person), activate(nina.person, "Second phone")
    rp = RelyingParty(portal, register(tree["cardio"]))
    with_eid, with_other, with_password = eid_login(wallet), eid_login(other), password_login(nina)
    tokens = {name: rp.login(over_http(client)) for name, client in
              (("eid", with_eid), ("other", with_other), ("password", with_password))}
    assert all(works(rp, token) == (200, True) for token in tokens.values())
    assert UserSession.objects.get(eid_serials=[wallet.serial]).methods == ["mobile_eid"]

    revoker = {"owner": nina, "issuer": issuer, "administrator": hospital_admin}[by]
    # The owner revokes on "My e-IDs" in the browser logged in with the password; an issuer or
    # the local administrator on the person's issuer page.
    revoke_page(with_password if by == "owner" else login_session(DjangoClient(), revoker),
                wallet)

    assert works(rp, tokens["eid"]) == (401, False)
    with pytest.raises(OAuthError) as refused:
        rp.session.refresh_token(rp.discovery["token_endpoint"],
                                 refresh_token=tokens["eid"]["refresh_token"])
    assert refused.value.error == "invalid_grant"
    assert not logged_in(with_eid)
    # The session logged in with the password and the one with the other e-ID go on.
    assert works(rp, tokens["other"]) == (200, True)
    assert works(rp, tokens["password"]) == (200, True)
    assert logged_in(with_other) and logged_in(with_password)
    ended = UserSession.objects.get(eid_serials=[wallet.serial])
    assert ended.end_reason == UserSession.EndReason.EID
    page = with_password.get("/my/sessions/").content.decode()
    assert "Sessions ended in the last 7 days" in page and "the e-ID used was revoked" in page
    event = AuditEvent.objects.get(action="oauth_tokens.revoked")
    assert event.actor_id == revoker.pk and event.target_id == str(ended.pk)
    assert event.changes["access_tokens_ended"] == [None, 1]
    sessions = AuditEvent.objects.get(action="eid_sessions.ended")
    assert sessions.actor_id == revoker.pk and sessions.changes["sessions_ended"] == [None, 1]


def test_a_session_stepped_up_with_the_eid_ends_with_it(portal: str, nurse: Any) -> None:
    nina = nurse[0]
    wallet = activate(nina.person)
    browser, bystander = password_login(nina), password_login(nina)
    req = start(browser, "/login/step-up/mobile-eid/", next="/my/sessions/")
    approve(wallet, req)
    assert browser.get("/login/step-up/mobile-eid/wait/")["Location"] == "/my/sessions/"
    row = UserSession.objects.get(eid_serials=[wallet.serial])
    assert row.methods == ["pwd", "otp", "mobile_eid"]
    issuance.eid_revoke(actor=nina, eid=MobileEID.objects.get(serial=wallet.serial),
                        reason="Phone lost")
    row.refresh_from_db()
    assert row.end_reason == UserSession.EndReason.EID
    assert not logged_in(browser)
    assert logged_in(bystander)


def test_a_login_completing_while_the_eid_is_revoked_is_ended_by_it(nurse: Any,
                                                                    issuing_ca: Any) -> None:
    """The completion holds the person's and the e-ID's locks until the session is recorded: a
    revocation arriving meanwhile waits for it, then finds the session and ends it, so no
    session outlives the revocation of its e-ID."""
    nina = nurse[0]
    wallet = activate(nina.person)
    eid = MobileEID.objects.get(serial=wallet.serial)
    browser = DjangoClient()
    approve(wallet, start(browser))

    def revoke() -> None:
        try:
            issuance.eid_revoke(actor=nina, eid=eid, reason="Phone lost")
        finally:
            connection.close()

    revocation = threading.Thread(target=revoke)
    seen: dict[str, bool] = {}

    def while_logging_in(sender: Any, **kwargs: Any) -> None:
        revocation.start()
        revocation.join(timeout=1.0)
        seen["revocation_waited"] = revocation.is_alive()

    user_logged_in.connect(while_logging_in, dispatch_uid="test-eid-revocation-race")
    try:
        # 302 to the choice of commission; or, when the revocation deleted the session before
        # this response saved it, Django's SessionInterrupted (400): logged out either way.
        assert browser.get("/login/mobile-eid/wait/").status_code in (302, 400)
    finally:
        user_logged_in.disconnect(dispatch_uid="test-eid-revocation-race")
    revocation.join(timeout=30)
    assert seen == {"revocation_waited": True}
    eid.refresh_from_db()
    assert eid.status == MobileEID.Status.REVOKED
    assert UserSession.objects.get(user=nina).end_reason == UserSession.EndReason.EID
    assert not logged_in(browser)

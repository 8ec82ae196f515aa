"""The OpenID Connect provider's single-use things under parallel HTTP requests, on PostgreSQL:
one authorization code sent to the token endpoint many times at once gives tokens at most once
(the grant row is locked for the token request's transaction, docs/architecture.md), and a
refresh token used many times at once rotates once, the others being reuses that revoke the
family (RFC 9700 4.14.2)."""

from __future__ import annotations

import base64
import http.client
import json
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from apps.federation.models import AccessToken, Grant, RefreshToken
from tests.concurrency.support import at_once, request
from tests.federation.oidc_support import REDIRECT_URI, browser, register, s256, use_provider

pytestmark = pytest.mark.django_db(transaction=True)
PARALLEL = 8
VERIFIER = "c" * 64


def _token(base_url: str, client_id: str, secret: str,
           fields: dict[str, str]) -> tuple[int, bytes]:
    """One token request with HTTP Basic client authentication; (status, body)."""
    body = urlencode(fields).encode()
    auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "localhost", parts.port, timeout=60)
    try:
        connection.request("POST", "/oauth2/token/", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {auth}"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def code(live_server: Any, settings: Any, tree: Any, nurse: Any) -> tuple[Any, str]:
    use_provider(settings, live_server.url)
    registered = register(tree["cardio"])
    session = browser(live_server.url, nurse[0])
    answer = session.get(f"{live_server.url}/oauth2/authorize/", params={
        "response_type": "code", "client_id": registered.client_id,
        "redirect_uri": REDIRECT_URI, "scope": "openid", "state": "st",
        "code_challenge": s256(VERIFIER), "code_challenge_method": "S256"},
        allow_redirects=False, timeout=30)
    return registered, parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def test_one_code_redeemed_at_once_gives_tokens_at_most_once(
        live_server: Any, code: tuple[Any, str]) -> None:
    registered, value = code
    fields = {"grant_type": "authorization_code", "code": value, "redirect_uri": REDIRECT_URI,
              "code_verifier": VERIFIER}
    answers = at_once([partial(_token, live_server.url, registered.client_id, registered.secret,
                               fields)] * PARALLEL)
    statuses = sorted(status for status, _ in answers)
    assert statuses.count(200) <= 1 and all(status in (200, 400) for status in statuses)
    assert Grant.objects.get().redeemed_at is not None
    # RFC 6749 4.1.2: the losers were replays, so what the winner got is revoked too.
    assert not AccessToken.objects.exists()


def test_one_refresh_token_used_at_once_rotates_at_most_once(
        live_server: Any, code: tuple[Any, str]) -> None:
    registered, value = code
    status, body = _token(live_server.url, registered.client_id, registered.secret, {
        "grant_type": "authorization_code", "code": value, "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER})
    assert status == 200
    refresh = json.loads(body)["refresh_token"]
    answers = at_once([partial(_token, live_server.url, registered.client_id, registered.secret,
                               {"grant_type": "refresh_token", "refresh_token": refresh})]
                      * PARALLEL)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [400] * (PARALLEL - 1)  # the refresh token's row is locked
    assert all(json.loads(body)["error"] == "invalid_grant"
               for status, body in answers if status == 400)
    # RFC 9700 4.14.2: the losers presented a used token, so the winner's new pair ends too.
    assert not AccessToken.objects.exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    assert request(live_server.url, "GET", "/.well-known/openid-configuration").status == 200


def test_a_code_replayed_while_its_refresh_token_is_used_revokes_both_pairs(
        live_server: Any, settings: Any, tree: Any, nurse: Any) -> None:
    """The replay locks the family's refresh tokens before it deletes the access tokens, as a
    refresh does (validator.revoke_grant_tokens): never a 500, and nothing of the code is left."""
    use_provider(settings, live_server.url)
    registered = register(tree["cardio"])
    session = browser(live_server.url, nurse[0])
    for _ in range(4):
        answer = session.get(f"{live_server.url}/oauth2/authorize/", params={
            "response_type": "code", "client_id": registered.client_id,
            "redirect_uri": REDIRECT_URI, "scope": "openid", "state": "st",
            "code_challenge": s256(VERIFIER), "code_challenge_method": "S256"},
            allow_redirects=False, timeout=30)
        value = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        redeem = {"grant_type": "authorization_code", "code": value,
                  "redirect_uri": REDIRECT_URI, "code_verifier": VERIFIER}
        status, body = _token(live_server.url, registered.client_id, registered.secret, redeem)
        assert status == 200
        refresh = {"grant_type": "refresh_token", "refresh_token": json.loads(body)["refresh_token"]}
        answers = at_once([
            partial(_token, live_server.url, registered.client_id, registered.secret, redeem),
            partial(_token, live_server.url, registered.client_id, registered.secret, refresh)])
        assert [status for status, _ in answers][0] == 400  # the replay: invalid_grant
        assert answers[1][0] in (200, 400)
        for status, body in answers:
            if status == 200:  # the refresh won the race: its new pair ends with the replay
                again = {"grant_type": "refresh_token",
                         "refresh_token": json.loads(body)["refresh_token"]}
                assert _token(live_server.url, registered.client_id, registered.secret,
                              again)[0] == 400
        assert not AccessToken.objects.exists()
        assert not RefreshToken.objects.filter(revoked__isnull=True).exists()

"""Access tokens as RFC 9068 JWTs, verified offline by a resource server with joserfc against the
live server's JWKS; signing key rotation with the old key published until its tokens expire;
the introspection rule (RFC 7662) and audited revocation (RFC 7009)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from django.core.management import call_command
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from apps.audit.models import AuditEvent
from apps.federation.models import AccessToken
from apps.federation.oidc import keys
from apps.federation.tasks import oidc_keys_prune_task
from tests.federation.oidc_support import RelyingParty, browser, register, use_provider

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portal(live_server: Any, settings: Any, tree: Any, tmp_path: Path) -> str:
    settings.OIDC_KEY_DIR = tmp_path / "oidc"  # rotation must not touch other tests' keys
    use_provider(settings, live_server.url)
    return str(live_server.url)


def header(token: str) -> dict[str, Any]:
    part = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def resource_server_verifies(portal: str, token: str) -> dict[str, Any]:
    """What a resource server does offline (RFC 9068 section 4): fetch the JWKS, check `typ`,
    the signature, `iss`, `aud` and `exp`. Raises joserfc's JoseError when refused."""
    jwks = KeySet.import_key_set(requests.get(f"{portal}/oauth2/jwks/", timeout=30).json())
    decoded = jwt.decode(token, jwks, algorithms=["ES256", "RS256"])
    if decoded.header.get("typ") != "at+jwt":
        raise JoseError("not an access token")
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": portal},
        aud={"essential": True, "value": f"{portal}/api/"},
        exp={"essential": True}, sub={"essential": True}, client_id={"essential": True},
        iat={"essential": True}, jti={"essential": True},
    ).validate(decoded.claims)
    return dict(decoded.claims)


def test_a_users_access_token_is_an_rfc9068_jwt_a_resource_server_verifies_offline(
        portal: str, tree: Any, nurse: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]))
    token = rp.login(browser(portal, nurse[0], methods=("pwd", "otp")))
    assert header(token["access_token"])["typ"] == "at+jwt"
    assert header(token["access_token"])["alg"] == "ES256"
    claims = resource_server_verifies(portal, token["access_token"])
    assert claims["sub"] == str(nurse[0].person_id)  # the same `sub` as the ID token
    assert claims["client_id"] == rp.registered.client_id
    assert claims["scope"] == "openid profile"
    assert claims["exp"] - claims["iat"] == 300  # short-lived (PORTAL_OAUTH_ACCESS_TOKEN_SECONDS)
    assert claims["acr"] and claims["amr"] == ["pwd", "otp"]
    assert claims["auth_time"] <= claims["iat"]
    # Still recorded (by its SHA-256 only), so the portal can introspect and revoke it.
    assert AccessToken.objects.get().token == ""
    # The refresh token stays opaque; the refreshed access token keeps the login's claims.
    assert token["refresh_token"].count(".") == 0
    refreshed = rp.session.refresh_token(rp.discovery["token_endpoint"],
                                         refresh_token=token["refresh_token"])
    again = resource_server_verifies(portal, refreshed["access_token"])
    assert again["jti"] != claims["jti"]
    assert [again[name] for name in ("acr", "amr", "auth_time")] == [
        claims[name] for name in ("acr", "amr", "auth_time")]
    # Through a second refresh too (the login is the code's, not re-read from the session).
    twice = rp.session.refresh_token(rp.discovery["token_endpoint"],
                                     refresh_token=refreshed["refresh_token"])
    assert resource_server_verifies(portal, twice["access_token"])["auth_time"] == \
        claims["auth_time"]


def test_a_client_credentials_token_names_the_client_and_rs256_clients_get_rs256(
        portal: str, tree: Any) -> None:
    registered = register(tree["cardio"], grant_type="client-credentials", scopes=(),
                          algorithm="RS256")
    rp = RelyingParty(portal, registered, scope=None)
    token = rp.session.fetch_token(rp.discovery["token_endpoint"],
                                   grant_type="client_credentials")
    assert header(token["access_token"])["alg"] == "RS256"
    claims = resource_server_verifies(portal, token["access_token"])
    assert claims["sub"] == claims["client_id"] == registered.client_id  # RFC 9068 2.2
    assert "acr" not in claims and "auth_time" not in claims


def test_a_tampered_or_foreign_token_is_refused_by_the_resource_server(
        portal: str, tree: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"], grant_type="client-credentials",
                                       scopes=()), scope=None)
    token = rp.session.fetch_token(rp.discovery["token_endpoint"],
                                   grant_type="client_credentials")["access_token"]
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "scope": "openid"}).encode())
    with pytest.raises(JoseError):
        resource_server_verifies(portal, f"{head}.{forged.decode().rstrip('=')}.{signature}")


def test_a_resource_indicator_is_refused(portal: str, tree: Any) -> None:
    registered = register(tree["cardio"], grant_type="client-credentials", scopes=())
    answer = requests.post(f"{portal}/oauth2/token/",
                           data={"grant_type": "client_credentials",
                                 "resource": "https://other.example/api"},
                           auth=(registered.client_id, registered.secret), timeout=30)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_target"


def test_a_token_signed_before_rotation_verifies_after_it_until_its_retention_ends(
        portal: str, tree: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"], grant_type="client-credentials",
                                       scopes=()), scope=None)
    before = rp.session.fetch_token(rp.discovery["token_endpoint"],
                                    grant_type="client_credentials")["access_token"]
    old_kid = header(before)["kid"]
    call_command("oidc_keys_rotate", "--algorithm", "ES256")
    after = rp.session.fetch_token(rp.discovery["token_endpoint"],
                                   grant_type="client_credentials")["access_token"]
    assert header(after)["kid"] != old_kid  # the new key signs at once
    resource_server_verifies(portal, before)  # the old public key is still published
    resource_server_verifies(portal, after)
    retired = Path(keys._retired_folder())
    assert all(path.stat().st_mode & 0o077 == 0 for path in retired.parent.rglob("*.*"))
    assert not list(retired.parent.glob("*.tmp"))
    # Once every token the old key signed has expired, the prune step drops it.
    record = json.loads((retired / f"{old_kid}.json").read_text())
    assert keys.prune(now=record["retired_at"] + keys.retention_seconds() - 1) == []
    assert keys.prune(now=record["retired_at"] + keys.retention_seconds()) == [old_kid]
    published = requests.get(f"{portal}/oauth2/jwks/", timeout=30).json()["keys"]
    assert old_kid not in {key["kid"] for key in published}
    assert {key["alg"] for key in published} == {"ES256", "RS256"}
    with pytest.raises(JoseError):
        resource_server_verifies(portal, before)


def introspect(portal: str, token: str, auth: tuple[str, str]) -> requests.Response:
    return requests.post(f"{portal}/oauth2/introspect/", data={"token": token}, auth=auth,
                         timeout=30)


def test_introspection_answers_the_tokens_own_client_and_resource_servers_only(
        portal: str, settings: Any, tree: Any, nurse: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]))
    token = rp.login(browser(portal, nurse[0]))["access_token"]
    own = introspect(portal, token, (rp.registered.client_id, rp.registered.secret)).json()
    assert own["active"] is True and own["sub"] == str(nurse[0].person_id)
    assert own["client_id"] == rp.registered.client_id and own["aud"] == f"{portal}/api/"
    assert "username" not in own
    other = register(tree["cardio"], grant_type="client-credentials", scopes=())
    # Another client learns nothing: the same answer as for an unknown token (RFC 7662 2.2).
    assert introspect(portal, token, (other.client_id, other.secret)).json() == {"active": False}
    settings.OAUTH_RESOURCE_SERVER_CLIENT_IDS = [other.client_id]
    assert introspect(portal, token, (other.client_id, other.secret)).json()["active"] is True
    # Without a client authentication: 401, and a wrong secret is audited.
    anonymous = requests.post(f"{portal}/oauth2/introspect/", data={"token": token}, timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    assert introspect(portal, token, (other.client_id, "wrong")).status_code == 401
    assert AuditEvent.objects.filter(action="oauth_client.authentication_failed",
                                     target_id=str(other.client.pk)).count() == 1
    assert requests.get(f"{portal}/oauth2/introspect/?token={token}", timeout=30
                        ).status_code == 405


def test_revocation_stops_a_token_at_once_and_is_audited(
        portal: str, tree: Any, nurse: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]))
    token = rp.login(browser(portal, nurse[0]))
    auth = (rp.registered.client_id, rp.registered.secret)
    revoked = requests.post(rp.discovery["revocation_endpoint"],
                            data={"token": token["refresh_token"],
                                  "token_type_hint": "refresh_token"}, auth=auth, timeout=30)
    assert revoked.status_code == 200
    assert introspect(portal, token["access_token"], auth).json() == {"active": False}
    userinfo = requests.get(rp.discovery["userinfo_endpoint"], timeout=30,
                            headers={"Authorization": f"Bearer {token['access_token']}"})
    assert userinfo.status_code == 401
    event = AuditEvent.objects.get(action="oauth_token.revoked")
    assert event.target_id == str(rp.registered.client.pk)
    assert token["refresh_token"] not in str(event.changes)
    assert token["access_token"] not in str(event.changes)
    wrong = requests.post(rp.discovery["revocation_endpoint"],
                          data={"token": token["access_token"]},
                          auth=(rp.registered.client_id, "wrong"), timeout=30)
    assert wrong.status_code == 401
    assert AuditEvent.objects.filter(action="oauth_client.authentication_failed").count() == 1


def test_the_scheduled_prune_drops_a_retired_key_only_after_its_retention() -> None:
    keys.ensure()
    old, _new = keys.rotate("ES256")
    assert old is not None
    retired = Path(keys._retired_folder()) / f"{old}.json"
    assert oidc_keys_prune_task.delay().get() == []
    record = json.loads(retired.read_text())
    record["retired_at"] -= keys.retention_seconds()
    retired.write_text(json.dumps(record))
    assert oidc_keys_prune_task.delay().get() == [old]
    assert not retired.exists()


def test_a_federated_login_gives_no_amr_outside_rfc8176(portal: str, tree: Any, nurse: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]))
    token = rp.login(browser(portal, nurse[0]))  # a SAML login: `saml` is not an RFC 8176 value
    claims = resource_server_verifies(portal, token["access_token"])
    assert "amr" not in claims and claims["acr"]

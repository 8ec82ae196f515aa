"""Single logout (SAML 2.0 profiles 4.4; bindings 3.4.4.1 for the signed HTTP-Redirect query
string) with the real test IdP: SP-initiated after the portal's own logout, IdP-initiated to the
single logout service, and garbage at both endpoints."""

from __future__ import annotations

import base64
import html
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import saml2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.test import Client
from saml2.saml import name_id_from_string
from saml2.xmldsig import SIG_RSA_SHA256

from apps.authn.models import UserSession
from apps.commissions.models import Employee
from apps.identities.models import User
from apps.testidp.idp import TestIdP
from tests.conftest import PASSWORD, totp_now

pytestmark = pytest.mark.django_db


def _verify_redirect_signature(location: str, cert_pem: bytes) -> None:
    """SAML 2.0 bindings 3.4.4.1: the signature covers `SAMLRequest=..&RelayState=..&SigAlg=..`
    as sent (URL-encoded)."""
    query = urlsplit(location).query
    raw = dict(part.split("=", 1) for part in query.split("&"))
    names = ("SAMLRequest", "SAMLResponse", "RelayState", "SigAlg")
    signed = "&".join(f"{name}={raw[name]}" for name in names if name in raw)
    assert unquote(raw["SigAlg"]) == SIG_RSA_SHA256
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(unquote(raw["Signature"])), signed.encode(), padding.PKCS1v15(),
               hashes.SHA256())


def _onward(answer: Any) -> str:
    """Where the browser goes next: a redirect's Location, or the link of a page that moves on
    by itself (a redirect after the logout form's POST may be blocked by CSP form-action)."""
    if answer.status_code == 302:
        return str(answer["Location"])
    assert answer.status_code == 200, answer
    found = re.search(r'href="(http[^"]+)"', answer.content.decode())
    assert found is not None
    return html.unescape(found.group(1))


def test_logout_ends_the_portal_session_then_the_idp_session(
        client: Client, federation: Any, nurse: tuple[User, Employee]) -> None:
    user = nurse[0]
    federation.login(client, user.person)
    name_id = name_id_from_string(client.session["saml"]["name_id"])
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/saml/logout/"
    assert "_auth_user_id" not in client.session
    assert UserSession.objects.get(user=user).end_reason == "logout"
    location = _onward(client.get("/saml/logout/"))
    idp: TestIdP = federation.idps["staff"]
    assert location.startswith(idp.slo_url + "?")
    _verify_redirect_signature(location, settings.SAML_SP_CERT_FILE.read_bytes())
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    parsed = idp.server().parse_logout_request(query["SAMLRequest"], saml2.BINDING_HTTP_REDIRECT)
    assert parsed.message.name_id.text == name_id.text
    assert parsed.message.issuer.text == settings.SAML_SP_ENTITY_ID
    back = idp.logout_response(query["SAMLRequest"], query.get("RelayState", ""),
                               sig_alg=query["SigAlg"], signature=query["Signature"])
    assert urlsplit(back).path == "/saml/ls/"
    home = client.get(urlsplit(back).path + "?" + urlsplit(back).query, follow=True)
    assert home.status_code == 200
    assert "You are logged out, also at your e-ID provider." in home.content.decode()
    # The same answer again, or one that answers no request of ours, claims nothing.
    again = client.get(urlsplit(back).path + "?" + urlsplit(back).query, follow=True)
    assert "also at your e-ID provider" not in again.content.decode()


def _idp_logout_request(idp: TestIdP, name_id_xml: str, *, sign: bool = True,
                        name_id_text: str | None = None) -> str:
    """A LogoutRequest from the IdP to the portal's single logout service (HTTP-Redirect)."""
    server = idp.server()
    name_id = name_id_from_string(name_id_xml)
    if name_id_text is not None:
        name_id.text = name_id_text
    destination = settings.PORTAL_BASE_URL + "/saml/ls/"
    _id, request = server.create_logout_request(destination, idp.sp_entity_id, name_id=name_id,
                                                sign=False)
    info = server.apply_binding(saml2.BINDING_HTTP_REDIRECT, str(request), destination, "",
                                sign=sign, sigalg=SIG_RSA_SHA256 if sign else None)
    location = dict(info["headers"])["Location"]
    return "/saml/ls/?" + urlsplit(location).query


def test_the_idp_logs_the_matching_session_out_and_is_answered(
        client: Client, federation: Any, nurse: tuple[User, Employee]) -> None:
    user = nurse[0]
    federation.login(client, user.person)
    idp = federation.idps["staff"]
    answer = client.get(_idp_logout_request(idp, client.session["saml"]["name_id"]))
    assert answer.status_code == 302 and answer["Location"].startswith(idp.slo_url + "?")
    assert "_auth_user_id" not in client.session
    assert UserSession.objects.get(user=user).ended_at is not None
    _verify_redirect_signature(answer["Location"], settings.SAML_SP_CERT_FILE.read_bytes())
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer["Location"]).query).items()}
    parsed = idp.server().parse_logout_request_response(query["SAMLResponse"],
                                                        saml2.BINDING_HTTP_REDIRECT)
    assert parsed.response.status.status_code.value == saml2.samlp.STATUS_SUCCESS


@pytest.mark.parametrize("variant", ["another-name-id", "unsigned"])
def test_a_logout_request_for_another_person_or_unsigned_leaves_the_session(
        client: Client, federation: Any, nurse: tuple[User, Employee], variant: str) -> None:
    federation.login(client, nurse[0].person)
    idp = federation.idps["staff"]
    name_id = client.session["saml"]["name_id"]
    path = (_idp_logout_request(idp, name_id, name_id_text="0" * 64)
            if variant == "another-name-id" else _idp_logout_request(idp, name_id, sign=False))
    answer = client.get(path)
    assert answer.status_code == 302
    assert client.session["_auth_user_id"] == str(nurse[0].pk)
    assert client.get("/my/eids/").status_code == 200


def test_a_password_and_totp_logout_never_goes_to_an_idp(
        client: Client, federation: Any, nurse: tuple[User, Employee], otp_clock: Any) -> None:
    user = nurse[0]
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    client.post("/login/otp/", {"token": totp_now()})
    assert client.session["authn"]["methods"] == ["pwd", "otp"]
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/saml/logout/")["Location"] == "/"


@pytest.mark.parametrize("query", [
    "", "SAMLRequest=%%%", "SAMLRequest=PHg+", "SAMLResponse=garbage", "SAMLRequest=" + "A" * 5000,
    "SAMLRequest=fZBBa8MwDIX%2FitE9&SigAlg=x&Signature=y"])
def test_garbage_at_the_logout_endpoints_is_a_redirect(
        client: Client, federation: Any, nurse: tuple[User, Employee], query: str) -> None:
    federation.login(client, nurse[0].person)
    for path in ("/saml/ls/", "/saml/logout/"):
        answer = client.get(f"{path}?{query}")
        assert answer.status_code == 302, (path, query)
    anonymous = Client()
    for path in ("/saml/ls/", "/saml/logout/"):
        assert anonymous.get(f"{path}?{query}").status_code == 302
    session = anonymous.session
    session["saml_logout"] = {"idp": federation.idps["staff"].entity_id, "name_id": "<x"}
    session.save()
    assert anonymous.get("/saml/logout/").status_code == 302


def test_rp_initiated_logout_uses_single_logout_only_without_a_way_back(
        client: Client, federation: Any, nurse: tuple[User, Employee], tree: Any) -> None:
    """docs/decisions.md: an e-service's logout that returns to the e-service ends the portal
    session only; one that ends on the portal's page also asks the IdP, as the portal's logout
    does."""
    from tests.federation.oidc_support import POST_LOGOUT_REDIRECT_URI, register

    user = nurse[0]
    registered = register(tree["cardio"])
    confirm = {"client_id": registered.client_id, "allow": "true"}
    federation.login(client, user.person)
    back = client.post("/oauth2/logout/confirm/", {**confirm, "state": "s",
                                           "post_logout_redirect_uri": POST_LOGOUT_REDIRECT_URI})
    assert back["Location"] == f"{POST_LOGOUT_REDIRECT_URI}?state=s"
    assert "saml_logout" not in client.session and "_auth_user_id" not in client.session

    federation.login(client, user.person)
    here = client.post("/oauth2/logout/confirm/", confirm)
    assert here["Location"] == "/saml/logout/"
    assert _onward(client.get("/saml/logout/")).startswith(federation.idps["staff"].slo_url)
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()

"""The consent page of an e-service that is not first party is shown once per e-service and set of
scopes: while the person's consent stands (a usable token of theirs, what "My e-services" lists),
a new login goes straight back to the e-service; wider scopes, `prompt=consent`, a revocation on
"My e-services" or a suspension ask again (docs/identity-provider.md, "Consent")."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client as DjangoClient

from apps.audit.models import AuditEvent
from apps.core.actors import SYSTEM
from apps.federation import services_oidc
from tests.conftest import login_session
from tests.federation.oidc_support import REDIRECT_URI, register, s256, use_provider

pytestmark = pytest.mark.django_db

VERIFIER = "v" * 64


@pytest.fixture(autouse=True)
def provider(settings: Any) -> None:
    use_provider(settings, "http://testserver")


def authorize(client: DjangoClient, client_id: str, **extra: str) -> Any:
    return client.get("/oauth2/authorize/?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
        "scope": "openid", "state": "st", "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256", **extra}))


def asks(answer: Any) -> bool:
    """The consent page was shown (else the answer went back to the e-service with a code)."""
    if answer.status_code == 200:
        assert "Log in to Journal e-service?" in answer.content.decode()
        return True
    assert answer.status_code == 302 and answer["Location"].startswith(REDIRECT_URI + "?code=")
    return False


def allow_and_redeem(client: DjangoClient, page: Any, registered: Any) -> None:
    """Allow on the consent page `page`, and the e-service redeems the code for its tokens."""
    fields = {name: value for name, value in page.context["form"].initial.items()
              if value is not None}
    answer = client.post(page.request["PATH_INFO"] + "?" + page.request["QUERY_STRING"],
                         {**fields, "allow": "Authorize"})
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    credentials = base64.b64encode(f"{registered.client_id}:{registered.secret}".encode()).decode()
    tokens = DjangoClient().post("/oauth2/token/", {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER}, HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert tokens.status_code == 200


def test_consent_is_asked_once_until_it_is_revoked(client: Any, tree: Any, nurse: Any) -> None:
    registered = register(tree["cardio"], first_party=False)
    login_session(client, nurse[0])
    page = authorize(client, registered.client_id)
    assert asks(page)
    allow_and_redeem(client, page, registered)

    again = login_session(DjangoClient(), nurse[0])  # a new login of the same person
    assert not asks(authorize(again, registered.client_id))
    assert AuditEvent.objects.filter(action="oauth_consent.given").count() == 1
    # More than was allowed, or prompt=consent (OIDC Core 3.1.2.1): asked again.
    assert asks(authorize(again, registered.client_id, scope="openid profile"))
    assert asks(authorize(again, registered.client_id, prompt="consent"))

    again.post(f"/my/e-services/{registered.client.pk}/revoke/")
    assert asks(authorize(again, registered.client_id))


def test_a_suspension_ends_the_consent(client: Any, tree: Any, nurse: Any) -> None:
    registered = register(tree["cardio"], first_party=False)
    login_session(client, nurse[0])
    allow_and_redeem(client, authorize(client, registered.client_id), registered)
    assert not asks(authorize(client, registered.client_id))
    services_oidc.client_suspend(actor=SYSTEM, client=registered.client, reason="test")
    services_oidc.client_approve(actor=SYSTEM, client=registered.client)
    assert asks(authorize(client, registered.client_id))


def test_another_person_is_asked(client: Any, tree: Any, nurse: Any, hospital_admin: Any) -> None:
    registered = register(tree["cardio"], first_party=False)
    login_session(client, nurse[0])
    allow_and_redeem(client, authorize(client, registered.client_id), registered)
    assert asks(authorize(login_session(DjangoClient(), hospital_admin), registered.client_id))

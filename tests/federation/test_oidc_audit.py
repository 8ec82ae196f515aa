"""Every token issue, refresh, revocation and consent is audited once, with the user (or the
OIDC provider for a client without a user) as actor and never a token value; the consent screen
lists the claims the e-service would receive, in the user's language."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from apps.audit.models import AuditEvent
from apps.federation.oidc.claims import NATURAL_PERSON_NUMBER_SCOPE
from tests.conftest import login_session
from tests.federation.oidc_support import RelyingParty, browser, register, use_provider
from tests.federation.test_oidc_endpoints import authorize_query

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portal(live_server: Any, settings: Any, tree: Any) -> str:
    use_provider(settings, live_server.url)
    return str(live_server.url)


def no_token_values(*values: str) -> None:
    for event in AuditEvent.objects.all():
        text = f"{event.changes} {event.reason} {event.target_label}"
        assert not any(value in text for value in values)


def test_issue_refresh_and_revocation_are_audited(portal: str, tree: Any, nurse: Any) -> None:
    user = nurse[0]
    rp = RelyingParty(portal, register(tree["cardio"]))
    first = rp.login(browser(portal, user))
    issued = AuditEvent.objects.get(action="oauth_token.issued")
    assert issued.actor_id == user.pk and issued.subject_person_id == user.person_id
    assert issued.target_id == str(rp.registered.client.pk)
    assert issued.changes["grant_type"] == [None, "authorization_code"]
    second = dict(rp.session.refresh_token(rp.discovery["token_endpoint"],
                                           refresh_token=first["refresh_token"]))
    assert AuditEvent.objects.get(action="oauth_token.refreshed").actor_id == user.pk
    requests.post(rp.discovery["revocation_endpoint"], data={"token": second["access_token"]},
                  auth=(rp.registered.client_id, rp.registered.secret), timeout=30)
    revoked = AuditEvent.objects.get(action="oauth_token.revoked")
    assert revoked.actor_kind == "system" and revoked.target_id == str(rp.registered.client.pk)
    no_token_values(first["access_token"], first["refresh_token"], second["access_token"],
                    second["refresh_token"], rp.registered.secret)


def test_client_credentials_are_audited_with_the_provider_as_actor(
        portal: str, tree: Any) -> None:
    registered = register(tree["cardio"], grant_type="client-credentials", scopes=())
    rp = RelyingParty(portal, registered, scope=None)
    token = rp.session.fetch_token(rp.discovery["token_endpoint"],
                                   grant_type="client_credentials")
    issued = AuditEvent.objects.get(action="oauth_token.issued")
    assert issued.actor_kind == "system" and issued.subject_person_id is None
    assert issued.changes["grant_type"] == [None, "client_credentials"]
    no_token_values(token["access_token"], registered.secret)


def test_consent_lists_the_claims_in_swedish_and_is_audited(
        client: Any, tree: Any, nurse: Any, settings: Any) -> None:
    use_provider(settings, "http://testserver")
    registered = register(tree["cardio"], first_party=False,
                          scopes=("openid", "profile", NATURAL_PERSON_NUMBER_SCOPE),
                          claims=("sub", "name", "https://id.oidc.se/claim/personalIdentityNumber"))
    login_session(client, nurse[0])
    url = "/oauth2/authorize/?" + authorize_query(
        registered.client_id, scope=f"openid profile {NATURAL_PERSON_NUMBER_SCOPE}")
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="sv")
    text = page.content.decode()
    assert "ditt personnummer" in text and "ditt namn" in text
    assert "ditt förnamn" not in text  # given_name is not among the allowed claims
    assert not AuditEvent.objects.filter(action="oauth_consent.given").exists()
    fields = {name: value for name, value in page.context["form"].initial.items()
              if value is not None}
    client.post(url, {**fields, "allow": "Authorize"})
    given = AuditEvent.objects.get(action="oauth_consent.given")
    assert given.actor_id == nurse[0].pk
    assert given.changes["scopes"][1] == sorted(["openid", "profile", NATURAL_PERSON_NUMBER_SCOPE])

"""`/my/e-services/`: the e-services a user authorised, and "Revoke", after which the e-service's
tokens stop working at once (userinfo 401, introspection inactive, refresh refused)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from django.test import Client as DjangoClient
from django.urls import reverse

from apps.audit.models import AuditEvent
from tests.conftest import login_session
from tests.federation.oidc_support import RelyingParty, browser, register, use_provider

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portal(live_server: Any, settings: Any, tree: Any) -> str:
    use_provider(settings, live_server.url)
    return str(live_server.url)


def test_a_user_sees_and_revokes_an_e_service(portal: str, tree: Any, nurse: Any,
                                              patient: Any) -> None:
    user = nurse[0]
    rp = RelyingParty(portal, register(tree["cardio"], claims=("sub", "name", "acr")))
    token = rp.login(browser(portal, user))
    page = login_session(DjangoClient(), user)
    listed = page.get("/my/e-services/")
    text = listed.content.decode()
    assert 'href="/my/e-services/"' in text  # the header links here
    assert "Journal e-service" in text and tree["cardio"].name in text
    assert "your name" in text and "how strongly you logged in" in text  # what it learns
    client_pk = rp.registered.client.pk
    # Another person cannot revoke it, nor learn that it exists.
    other = login_session(DjangoClient(), patient)
    assert "Journal e-service" not in other.get("/my/e-services/").content.decode()
    assert other.post(f"/my/e-services/{client_pk}/revoke/").status_code == 404
    assert requests.get(rp.discovery["userinfo_endpoint"], timeout=30, headers={
        "Authorization": f"Bearer {token['access_token']}"}).status_code == 200

    answer = page.post(f"/my/e-services/{client_pk}/revoke/", follow=True)
    assert "can no longer use your login" in answer.content.decode()
    assert "Journal e-service" not in page.get("/my/e-services/").content.decode()
    assert requests.get(rp.discovery["userinfo_endpoint"], timeout=30, headers={
        "Authorization": f"Bearer {token['access_token']}"}).status_code == 401
    introspected = requests.post(rp.discovery["introspection_endpoint"],
                                 data={"token": token["access_token"]},
                                 auth=(rp.registered.client_id, rp.registered.secret), timeout=30)
    assert introspected.json()["active"] is False
    with pytest.raises(OAuthError):
        rp.session.refresh_token(rp.discovery["token_endpoint"],
                                 refresh_token=token["refresh_token"])
    event = AuditEvent.objects.get(action="oauth_authorisation.revoked")
    assert event.actor_id == user.pk and event.subject_person_id == user.person_id
    assert token["access_token"] not in str(event.changes)


def test_without_authorisations_the_page_says_so(client: Any, patient: Any) -> None:
    login_session(client, patient)
    assert "No e-service uses your login." in client.get(
        "/my/e-services/").content.decode()
    assert client.get("/my/e-services/").status_code == 200


def test_a_visitor_is_sent_to_log_in(client: Any, db: Any) -> None:
    """Found: a logged-out patient was sent to the staff login; the e-ID choice serves both."""
    answer = client.get("/my/e-services/")
    assert answer.status_code == 302
    assert answer["Location"].startswith(reverse("federation:discovery") + "?next=")


def test_an_authorisation_given_again_after_revoking_starts_anew(portal: str, tree: Any,
                                                                 nurse: Any) -> None:
    """Found: "First authorised" still showed the time from before the revocation."""
    from datetime import timedelta

    from apps.federation import services_tokens
    from apps.federation.models import Grant
    from apps.federation.selectors import authorisations_for_person

    user = nurse[0]
    rp = RelyingParty(portal, register(tree["cardio"]))
    rp.login(browser(portal, user))
    Grant.objects.update(created=Grant.objects.get().created - timedelta(days=30))
    services_tokens.authorisation_revoke(actor=user, client=rp.registered.client)
    assert authorisations_for_person(user.person_id) == []
    rp.login(browser(portal, user))
    [row] = authorisations_for_person(user.person_id)
    assert row["first_authorised"] == Grant.objects.latest("created").created

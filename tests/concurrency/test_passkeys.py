"""A passkey assertion sent many times at once from one session logs in once: the challenge is
spent under a unique constraint (W3C Web Authentication Level 2, 13.4.3), even for an
authenticator that keeps no signature counter (always 0), where the counter cannot help. The
same holds for the passkey as the second factor after a password."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.test import Client

from apps.audit.models import AuditEvent
from apps.identities.models import User
from tests.authn.webauthn_support import SoftAuthenticator
from tests.concurrency.support import CSRF, Answer, at_once
from tests.conftest import PASSWORD, login_session


def _post(base_url: str, path: str, payload: dict[str, Any], session_key: str) -> Answer:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "localhost", parts.port, timeout=60)
    try:
        connection.request("POST", path, body=json.dumps(payload).encode(), headers={
            "Content-Type": "application/json", "Accept-Language": "en", "X-CSRFToken": CSRF,
            "Cookie": f"csrftoken={CSRF}; {django_settings.SESSION_COOKIE_NAME}={session_key}"})
        response = connection.getresponse()
        return Answer(response.status, response.getheader("Content-Type", ""), response.read())
    finally:
        connection.close()


def _registered(settings: Any, user: User) -> SoftAuthenticator:
    """A passkey of `user`, registered from a logged-in session."""
    settings.PORTAL_WEBAUTHN_RP_ID = "testserver"
    settings.PORTAL_WEBAUTHN_ORIGIN = "http://testserver"
    authenticator = SoftAuthenticator()
    owner = login_session(Client(), user)
    options = owner.post("/my/passkeys/options/").json()
    created = owner.post("/my/passkeys/register/",
                         json.dumps({"name": "Key", "credential": authenticator.create(options)}),
                         content_type="application/json")
    assert created.status_code == 201, created.content
    return authenticator


@pytest.mark.django_db(transaction=True)
def test_one_assertion_sent_at_once_logs_in_once(live_server: Any, settings: Any,
                                                 hospital_admin: User) -> None:
    authenticator = _registered(settings, hospital_admin)
    browser = Client()
    options = browser.post("/login/passkey/options/").json()
    assertion = authenticator.get(options, count_step=0)  # a counter that stays 0
    key = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
    answers = at_once([lambda: _post(live_server.url, "/login/passkey/",
                                     {"credential": assertion}, key)] * 8)
    assert all(answer.status in (200, 400) for answer in answers), answers
    assert sum(answer.status == 200 for answer in answers) == 1, answers
    assert AuditEvent.objects.filter(action="passkey.used").count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_second_factor_assertion_sent_at_once_logs_in_once(live_server: Any, settings: Any,
                                                               hospital_admin: User) -> None:
    authenticator = _registered(settings, hospital_admin)
    browser = Client()
    password = browser.post("/login/", {"username": hospital_admin.username, "password": PASSWORD})
    assert password.status_code == 302, password.content
    options = browser.post("/login/otp/passkey/options/").json()
    assertion = authenticator.get(options, count_step=0)  # a counter that stays 0
    key = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
    answers = at_once([lambda: _post(live_server.url, "/login/otp/passkey/",
                                     {"credential": assertion}, key)] * 8)
    assert all(answer.status in (200, 400) for answer in answers), answers
    assert sum(answer.status == 200 for answer in answers) == 1, answers
    assert AuditEvent.objects.filter(action="login.succeeded", actor_id=hospital_admin.pk,
                                     changes__methods=[None, ["pwd", "hwk", "user"]]).count() == 1

"""The demo e-service (clients/demo_eservice) against the live portal: registered by the demo
data, it logs a user in with code+PKCE, shows the verified ID token's claims and calls the
portal's protected API with the JWT access token; the API refuses anything else."""

from __future__ import annotations

import html
import importlib.util
import json
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from django.test import Client as DjangoClient

from apps.authn.models import UserSession
from apps.demo import eservice
from apps.federation.models import AccessToken
from tests.conftest import login_session
from tests.federation.oidc_support import browser, register, use_provider

pytestmark = pytest.mark.django_db(transaction=True)

APP_PATH = Path(__file__).resolve().parents[2] / "clients" / "demo_eservice" / "eservice.py"


def _load_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_eservice", APP_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["demo_eservice"] = module
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def portal(live_server: Any, settings: Any, tree: Any, tmp_path: Path) -> str:
    use_provider(settings, live_server.url)
    settings.VAR_DIR = tmp_path
    settings.OIDC_ISSUER = settings.PORTAL_BASE_URL = live_server.url
    settings.DEMO_ESERVICE_URL = f"http://127.0.0.1:{_free_port()}"
    return str(live_server.url)


@pytest.fixture
def demo(portal: str, tree: Any) -> Iterator[str]:
    path = eservice.register(tree["region"])
    server = _load_app().serve(json.loads(path.read_text()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_demo_eservice_logs_in_shows_the_claims_and_calls_the_api(
        demo: str, portal: str, tree: Any, nurse: Any) -> None:
    user_agent = browser(portal, nurse[0])
    assert "Log in through the portal" in user_agent.get(demo, timeout=30).text
    shown = user_agent.get(f"{demo}/login", timeout=30)
    assert shown.status_code == 200 and shown.url == f"{demo}/"
    text = html.unescape(shown.text)
    assert "ID token claims" in text
    assert f'"sub": "{nurse[0].person_id}"' in text
    assert '"status": 200' in text  # the API accepted the access token
    assert '"acr"' in text
    # Revoked on My e-services: the next view of the demo shows the API refusing the token.
    client_pk = AccessToken.objects.get().application_id
    login_session(DjangoClient(), nurse[0]).post(f"/my/e-services/{client_pk}/revoke/")
    after = html.unescape(user_agent.get(f"{demo}/", timeout=30).text)
    assert '"status": 401' in after and "no longer accepts" in after
    assert "Log in through the portal" in after


def test_the_demo_eservice_logs_out_of_the_portal_and_comes_back(
        demo: str, portal: str, tree: Any, nurse: Any) -> None:
    user_agent = browser(portal, nurse[0])
    page = user_agent.get(f"{demo}/login", timeout=30).text
    assert '<form method="post" action="/logout"><button type="submit">Log out</button>' in page
    back = user_agent.post(f"{demo}/logout", timeout=30)  # portal's end_session_endpoint, back
    assert back.url.startswith(f"{demo}/logged-out?state=")
    assert "You are logged out of the e-service and the portal." in back.text
    assert not UserSession.objects.filter(user=nurse[0], ended_at__isnull=True).exists()
    assert "Log in through the portal" in user_agent.get(demo, timeout=30).text


def test_the_demo_registration_is_idempotent_and_its_secret_file_private(
        portal: str, tree: Any) -> None:
    first = eservice.register(tree["region"])
    config = json.loads(first.read_text())
    assert first.stat().st_mode & 0o077 == 0
    assert eservice.register(tree["region"]) == first
    assert json.loads(first.read_text()) == config  # no new secret when nothing changed
    first.unlink()
    again = json.loads(eservice.register(tree["region"]).read_text())
    assert again["client_id"] == config["client_id"]
    assert again["client_secret"] != config["client_secret"]


def test_the_protected_api_refuses_a_missing_bad_or_revoked_token(portal: str, tree: Any) -> None:
    api = f"{portal}/api/v1/oidc-demo/me"
    missing = requests.get(api, timeout=30)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.headers["Content-Type"].startswith("application/problem+json")
    bad = requests.get(api, headers={"Authorization": "Bearer not.a.token"}, timeout=30)
    assert bad.status_code == 401
    registered = register(tree["cardio"], grant_type="client-credentials", scopes=())
    auth = (registered.client_id, registered.secret)
    token = requests.post(f"{portal}/oauth2/token/", data={"grant_type": "client_credentials"},
                          auth=auth, timeout=30).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(api, headers=bearer, timeout=30).json()["sub"] == registered.client_id
    requests.post(f"{portal}/oauth2/revoke/", data={"token": token}, auth=auth, timeout=30)
    assert requests.get(api, headers=bearer, timeout=30).status_code == 401  # at once

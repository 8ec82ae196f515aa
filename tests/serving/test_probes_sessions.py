"""/healthz and /readyz answer whatever session cookie a probe sends, and never end a session
(docs/deployment.md, "Health and readiness")."""

from __future__ import annotations

import time

import pytest

from apps.authn import session
from tests.conftest import login_session
from tests.serving.test_readiness import broker  # noqa: F401  (the real Redis broker)

pytestmark = pytest.mark.django_db


def _age_session(client, seconds: int) -> None:
    stored = client.session
    stored[session.SEEN_KEY] = int(time.time()) - seconds
    stored.save()


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_a_probe_with_an_expired_session_cookie_is_still_200(broker, client, hospital_admin, path):  # noqa: F811
    """An idle-expired session cookie turns /healthz ("always 200") into a 302 to the login
    page, and the probe ends the session (a database write and an audit row)."""
    login_session(client, hospital_admin)
    _age_session(client, 10 * 24 * 3600)
    response = client.get(path)
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_a_probe_may_ask_with_head(broker, client, path):  # noqa: F811
    assert client.head(path).status_code == 200

"""The demo record system (`make run`): a client credentials client that may ask the rules
service, its secret written once for the README's curl commands."""

from __future__ import annotations

from typing import Any

import pytest

from apps.federation.models import Client
from tests.api.test_authzen import client_token
from tests.federation.oidc_support import Registered, use_provider

pytestmark = pytest.mark.django_db


def test_the_demo_record_system_is_registered_once_and_gets_an_evaluation_token(
        settings: Any, tmp_path: Any, tree: Any) -> None:
    from apps.demo import rules_client

    settings.VAR_DIR = tmp_path
    use_provider(settings, "http://testserver")
    config = rules_client.register(tree["region"])
    assert rules_client.config_path().stat().st_mode & 0o077 == 0
    assert rules_client.register(tree["region"]) == config  # not re-keyed at each start
    client = Client.objects.get(client_id=config["client_id"])
    assert client.allowed_scopes == ["access.evaluate"] and client.state == "approved"
    assert client_token(Registered(client, config["client_secret"]))

"""The demo record system's client registration: a confidential client credentials client of the
demo region with the `access.evaluate` scope, approved, so `make run` lets a newcomer ask the
rules service (OpenID AuthZEN, docs/authzen.md) with curl at once. Its client ID and secret
(development only) are written to `var/demo-rules-client.json` (mode 0600) and printed by
`manage.py demo_data`; the portal keeps only the secret's keyed hash
(docs/identity-provider.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.core.actors import DEMO_DATA
from apps.demo.files import write_private_json
from apps.federation import services_oidc
from apps.federation.models import Client
from apps.organisations.models import Organisation

NAME = "Demo record system"
SCOPE = "access.evaluate"


def config_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-rules-client.json"


def register(region: Organisation) -> dict[str, Any]:
    """Register and approve the demo record system's client under `region` once; write its
    configuration when it is missing or names another client (a new secret then replaces the
    old one, which the portal cannot show again). Returns the configuration: `client_id`,
    `client_secret`, `token_endpoint`, `scope`, `evaluation_endpoint`."""
    path = config_path()
    client = Client.objects.filter(organisation=region, name=NAME).first()
    if client is None:
        registered = services_oidc.client_register(
            actor=DEMO_DATA, organisation=region, name=NAME, contact_name="Demo Demosson",
            contact_email="records@demoland.example", client_type="confidential",
            grant_type="client-credentials", redirect_uris=[], post_logout_redirect_uris=[],
            allowed_scopes=[SCOPE], allowed_claims=[], algorithm="ES256", first_party=True)
        client = services_oidc.client_approve(actor=DEMO_DATA, client=registered.client)
        secret = registered.secret
    else:
        try:
            config: dict[str, Any] = json.loads(path.read_text())
            if config["client_id"] == client.client_id:
                return config
        except (OSError, ValueError, KeyError):
            pass
        secret = services_oidc.client_secret_rotate(actor=DEMO_DATA, client=client).secret
    base = settings.PORTAL_BASE_URL.rstrip("/")
    config = {"client_id": client.client_id, "client_secret": secret,
              "token_endpoint": f"{base}/oauth2/token/", "scope": SCOPE,
              "evaluation_endpoint": f"{base}/access/v1/evaluation"}
    write_private_json(path, config)
    return config

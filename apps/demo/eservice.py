"""The demo e-service's client registration (clients/demo_eservice): a first-party, approved,
confidential client of the demo region, so `make run` shows the OpenID Connect flow with no setup.
Its client ID and secret are written to `var/demo-eservice.json` (mode 0600) for the e-service to
read; the portal keeps only the secret's keyed hash (docs/identity-provider.md).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings

from apps.core.actors import DEMO_DATA
from apps.demo.files import write_private_json
from apps.federation import services_oidc
from apps.federation.models import Client
from apps.federation.oidc.vocabulary import CLAIMS
from apps.organisations.models import Organisation

NAME = "Demo e-service"


def config_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-eservice.json"


def register(region: Organisation) -> Path:
    """Register and approve the demo e-service's client under `region` once, with its redirect
    URI and post-logout redirect URI (`/logged-out`, added to a client registered before it
    existed); write its configuration when it is missing or names another client (a new secret
    then replaces the old one, which the portal cannot show again). Returns the configuration's
    path."""
    path = config_path()
    client = Client.objects.filter(organisation=region, name=NAME).first()
    logged_out = f"{settings.DEMO_ESERVICE_URL}/logged-out"
    if client is not None and not client.post_logout_redirect_uri_allowed(logged_out):
        client = services_oidc.client_update(
            actor=DEMO_DATA, client=client, contact_name=client.contact_name,
            contact_email=client.contact_email, redirect_uris=client.redirect_uris.split(),
            post_logout_redirect_uris=[*client.post_logout_redirect_uris.split(), logged_out])
    if client is None:
        registered = services_oidc.client_register(
            actor=DEMO_DATA, organisation=region, name=NAME, contact_name="Demo Demosson",
            contact_email="eservice@demoland.example", client_type="confidential",
            grant_type="authorization-code",
            redirect_uris=[f"{settings.DEMO_ESERVICE_URL}/callback"],
            post_logout_redirect_uris=[logged_out],
            allowed_scopes=["openid", "profile"], allowed_claims=list(CLAIMS),
            algorithm="ES256", first_party=True)
        client = services_oidc.client_approve(actor=DEMO_DATA, client=registered.client)
        secret = registered.secret
    else:
        try:
            if json.loads(path.read_text())["client_id"] == client.client_id:
                return path
        except (OSError, ValueError, KeyError):
            pass
        secret = services_oidc.client_secret_rotate(actor=DEMO_DATA, client=client).secret
    config = {"issuer": settings.OIDC_ISSUER, "client_id": client.client_id,
              "client_secret": secret, "redirect_uri": f"{settings.DEMO_ESERVICE_URL}/callback",
              "api": f"{settings.PORTAL_BASE_URL}/api/v1/oidc-demo/me"}
    write_private_json(path, config)
    return path

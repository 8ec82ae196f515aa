"""Scheduled work of federated login (Celery beat; `CELERY_BEAT_SCHEDULE`)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from apps.federation import flow, services
from apps.federation.actors import SAML_SP
from apps.federation.models import IdentityProvider
from apps.federation.oidc import keys


@shared_task(name="federation.idp_metadata_refresh_task")
def idp_metadata_refresh_task() -> int:
    """Apply `SAML_IDPS`, then refresh each enabled IdP whose metadata is older than
    `SAML_METADATA_REFRESH_SECONDS`, or missing or refused (those are retried at every run), and
    delete expired login states and replay entries. Returns how many IdPs were refreshed."""
    services.idps_configure(actor=SAML_SP)
    now = timezone.now()
    due = now - dt.timedelta(seconds=settings.SAML_METADATA_REFRESH_SECONDS)
    count = 0
    for idp in IdentityProvider.objects.filter(enabled=True):
        stale = idp.metadata_fetched_at is None or idp.metadata_fetched_at <= due
        if stale or idp.metadata_state != IdentityProvider.State.OK:
            services.idp_metadata_refresh(actor=SAML_SP, idp=idp, now=now)
            count += 1
    flow.prune(now)
    return count


@shared_task(name="federation.oidc_keys_prune_task")
def oidc_keys_prune_task() -> list[str]:
    """Delete the retired OpenID Connect signing keys whose tokens have all expired
    (`apps.federation.oidc.keys.prune`; the JWKS already leaves them out). Returns their `kid`s.
    Runs where `PORTAL_OIDC_KEY_DIR` is mounted (docs/identity-provider.md, "Signing keys")."""
    return keys.prune()

"""The SCIM client of a downstream system: scim2-client over httpx2, authenticated with the
system's bearer token (RFC 6750) or an OAuth2 access token from its token endpoint (client
credentials grant, RFC 6749 §4.4).

Every request has a timeout (`PROVISIONING_HTTP_TIMEOUT_SECONDS`, connect, read, write and pool
each) and its answer's body a deadline of twice that from the request's start and a size cap
(`MAX_RESPONSE_BYTES`), so a slow or endless target costs a worker a bounded time per request and
the push is retried later (docs/provisioning.md, "Reliability"). An OAuth2 access token is kept,
encrypted, in the database (`AccessTokenCache`) and shared by every worker process until shortly
before it expires.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx2
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from scim2_client.client import describe_resource_models
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import ScimProvider

from apps.provisioning import credentials
from apps.provisioning.models import AccessTokenCache, DownstreamSystem
from apps.provisioning.schema import PortalGroup, PortalUser

#: A cached access token is renewed this long before its `expires_in` ends.
TOKEN_MARGIN = dt.timedelta(seconds=30)
#: Lifetime assumed when the token endpoint names none (RFC 6749 §5.1 makes `expires_in` optional).
DEFAULT_TOKEN_SECONDS = 300
#: Longest lifetime believed from a token endpoint's `expires_in` (seconds): a day.
MAX_TOKEN_SECONDS = 24 * 3600
#: Largest answer body read from a target or token endpoint (bytes, as received).
MAX_RESPONSE_BYTES = 16 * 1024 * 1024


class TokenError(Exception):
    """The token endpoint refused or failed (RFC 6749 §5.2). `transient` is True when trying
    again later may succeed (network, timeout, 429, 5xx)."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def _timeout() -> httpx2.Timeout:
    return httpx2.Timeout(float(settings.PROVISIONING_HTTP_TIMEOUT_SECONDS))


class BoundedTransport(httpx2.BaseTransport):
    """httpx2's transport reading each answer's body whole, within a deadline of twice
    `PROVISIONING_HTTP_TIMEOUT_SECONDS` from the request's start (the timeouts are per read, so a
    target trickling its body would hold the worker for ever) and at most `MAX_RESPONSE_BYTES`.
    Raises httpx2.ReadTimeout past the deadline, httpx2.ReadError past the size."""

    def __init__(self) -> None:
        self._inner = httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        deadline = time.monotonic() + 2 * float(settings.PROVISIONING_HTTP_TIMEOUT_SECONDS)
        response = self._inner.handle_request(request)
        body = bytearray()
        try:
            for chunk in response.stream:  # type: ignore[union-attr]
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise httpx2.ReadError(f"answer larger than {MAX_RESPONSE_BYTES} bytes",
                                           request=request)
                if time.monotonic() > deadline:
                    raise httpx2.ReadTimeout("answer not complete within the deadline",
                                             request=request)
        finally:
            response.close()
        return httpx2.Response(response.status_code, headers=response.headers,
                               content=bytes(body), request=request,
                               extensions=response.extensions)


def _http(**kwargs: Any) -> httpx2.Client:
    """An httpx2 client with the provisioning timeouts and `BoundedTransport`."""
    return httpx2.Client(timeout=_timeout(), transport=BoundedTransport(), **kwargs)


def _provider() -> ScimProvider:
    """The User (with the enterprise and HSA extensions) and Group the portal sends, described
    up front, so that no push needs the target's discovery endpoints (RFC 7644 §4)."""
    models, resource_types = describe_resource_models([PortalUser, PortalGroup])
    return ScimProvider(models=models, resource_types=resource_types)


def scim_client(system: DownstreamSystem) -> SyncSCIMClient:
    """A SCIM client for `system`'s base URL with its credentials; close `client.client` after
    use. Raises TokenError when an OAuth2 access token cannot be had, and
    `cryptography.fernet.InvalidToken` when the credentials cannot be decrypted."""
    http = _http(base_url=system.base_url.rstrip("/"),
                 headers={"Authorization": f"Bearer {bearer_token(system)}",
                          "Accept": "application/scim+json"})
    return SyncSCIMClient(http, provider=_provider())


def bearer_token(system: DownstreamSystem) -> str:
    """The token to send as `Authorization: Bearer` (RFC 6750 §2.1): the stored bearer token, or
    a cached OAuth2 access token still valid for `TOKEN_MARGIN`, else a new one from the token
    endpoint (stored for the other workers). Raises TokenError."""
    secret = credentials.decrypt(system.credentials)
    if system.auth_method == DownstreamSystem.AuthMethod.BEARER:
        return str(secret["token"])
    cached = AccessTokenCache.objects.filter(system=system,
                                             expires_at__gt=timezone.now() + TOKEN_MARGIN).first()
    if cached is not None:
        return str(credentials.decrypt(cached.token)["access_token"])
    token, lifetime = _fetch_token(secret)
    with transaction.atomic():
        AccessTokenCache.objects.update_or_create(
            system=system, defaults={"token": credentials.encrypt({"access_token": token}),
                                     "expires_at": timezone.now() + dt.timedelta(seconds=lifetime)})
    return token


def forget_token(system: DownstreamSystem) -> None:
    """Drop the cached access token (the target answered 401: it was revoked or expired early)."""
    AccessTokenCache.objects.filter(system=system).delete()


def _fetch_token(secret: dict[str, Any]) -> tuple[str, int]:
    """(access token, lifetime in seconds, at most `MAX_TOKEN_SECONDS`) from the token endpoint: a
    client credentials grant with the client authenticated by HTTP Basic (RFC 6749 §2.3.1,
    §4.4.2). Raises TokenError."""
    form = {"grant_type": "client_credentials"}
    if secret.get("scope"):
        form["scope"] = str(secret["scope"])
    try:
        with _http() as http:
            response = http.post(str(secret["token_url"]), data=form,
                                 auth=(str(secret["client_id"]), str(secret["client_secret"])))
    except httpx2.RequestError as exc:
        raise TokenError(f"token endpoint unreachable: {exc}", transient=True) from exc
    if response.status_code != 200:
        transient = response.status_code == 429 or response.status_code >= 500
        raise TokenError(f"token endpoint answered {response.status_code}: {response.text[:500]}",
                         transient=transient)
    try:
        body = response.json()
        token = str(body["access_token"])
        lifetime = min(max(int(body.get("expires_in") or DEFAULT_TOKEN_SECONDS), 0),
                       MAX_TOKEN_SECONDS)
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise TokenError("token endpoint answered no access token (RFC 6749 §5.1)",
                         transient=False) from exc
    return token, lifetime

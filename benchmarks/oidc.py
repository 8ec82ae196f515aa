"""Figures for the OpenID Connect provider's token endpoint as production serves it: gunicorn
(portal/gunicorn.conf.py) on PostgreSQL, debug off. Requests per second and p50/p99 latency at
concurrency 1, 8 and 32 for the client credentials grant and the refresh grant, beside a
constant JSON view of the same server (`/healthz`) as the baseline, each token figure also as a
ratio to it; and the SQL statements of one token request of each grant. Prints, never asserts.

Skipped unless DATABASE_URL is PostgreSQL (SQLite serialises writers, so its figures would say
nothing about production). The load comes from threads of this process over keep-alive HTTP
connections, on the same machine as the server: on a small machine the load generator takes CPU
from the server, which bounds the figures (docs/deployment.md, "Capacity").
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.test import Client as DjangoClient
from django.utils import timezone
from oauth2_provider.models import set_token_value

from apps.core.actors import SYSTEM
from apps.demo import seed
from apps.federation import services_oidc
from apps.federation.models import AccessToken, Client, RefreshToken
from apps.federation.oidc import keys
from apps.identities.models import User
from apps.organisations.models import Organisation

CONCURRENCY = (1, 8, 32)
SECONDS_PER_POINT = 3.0
WORKERS = os.cpu_count() or 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _register(region: Organisation, grant_type: str) -> tuple[Client, str]:
    done = services_oidc.client_register(
        actor=SYSTEM, organisation=region, name=f"bench {grant_type}", contact_name="Bench",
        contact_email="bench@demoland.example", client_type="confidential",
        grant_type=grant_type,
        post_logout_redirect_uris=[],
        redirect_uris=["https://bench.example/callback"] if grant_type == "authorization-code"
        else [], allowed_scopes=["openid"] if grant_type == "authorization-code" else [],
        allowed_claims=["sub"], algorithm="ES256", first_party=True)
    return services_oidc.client_approve(actor=SYSTEM, client=done.client), done.secret


def _refresh_token(client: Client, user: User) -> str:
    """A refresh token of `client` for `user`, as a code redemption leaves it (rows only)."""
    access = AccessToken(user=user, person_id=user.person_id, application=client, scope="openid",
                         expires=timezone.now() + timedelta(minutes=5))
    set_token_value(access, secrets.token_urlsafe(32))
    access.save()
    raw = secrets.token_urlsafe(32)
    refresh = RefreshToken(user=user, application=client, access_token=access)
    set_token_value(refresh, raw)
    refresh.save()
    return raw


def _basic(client: Client, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()


def _serve(port: int) -> subprocess.Popen[bytes]:
    """gunicorn with the production configuration, debug off, on this database and keys."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test", "DJANGO_DEBUG": "false",
           "DJANGO_SECRET_KEY": settings.SECRET_KEY, "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
           "DJANGO_SECURE_SSL_REDIRECT": "false",
           "CELERY_BROKER_URL": str(getattr(settings, "CELERY_BROKER_URL", "")),
           "PORTAL_TOTP_ENCRYPTION_KEYS": os.environ.get("PORTAL_TOTP_ENCRYPTION_KEYS")
           or ",".join(settings.PORTAL_TOTP_ENCRYPTION_KEYS),
           "PORTAL_OAUTH_CLIENT_SECRET_PEPPER": settings.OAUTH_CLIENT_SECRET_PEPPER,
           "PORTAL_OIDC_ISSUER": settings.OIDC_ISSUER,
           "PORTAL_AUDIT_SEAL_KEY_FILE": str(settings.PORTAL_AUDIT_SEAL_KEY_FILE),
           "PORTAL_DB_CONN_MAX_AGE": "600",
           "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(WORKERS),
           "GUNICORN_ACCESS_LOG": "", "GUNICORN_LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "portal/gunicorn.conf.py",
         "portal.wsgi:application"], cwd=settings.BASE_DIR, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection_.request("GET", "/healthz")
            if connection_.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def _load(port: int, concurrency: int,
          make: Callable[[int], tuple[str, str, bytes, dict[str, str]]],
          answered: Callable[[int, bytes], None],
          seconds: float = SECONDS_PER_POINT) -> tuple[float, float, float, int]:
    """`concurrency` threads send requests (`make(thread)` → method, path, body, headers) over
    keep-alive connections for `seconds`; `answered(thread, body)` sees each 200 answer.
    Returns (requests/s, p50 ms, p99 ms, failures)."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    failures = [0] * concurrency
    start = time.perf_counter()
    deadline = start + seconds

    def worker(thread: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < deadline:
            method, path, body, headers = make(thread)
            began = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            content = response.read()
            latencies[thread].append((time.perf_counter() - began) * 1000)
            if response.status == 200:
                answered(thread, content)
            else:
                failures[thread] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    every = sorted(value for values in latencies for value in values)
    return (len(every) / elapsed, statistics.median(every),
            every[min(len(every) - 1, int(len(every) * 0.99))], sum(failures))


def _statements(path: str, data: dict[str, str], auth: str) -> int:
    """The SQL statements of one request, counted in this process through Django's test client."""
    count = 0

    def counting(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counting):
        response = DjangoClient(HTTP_HOST="127.0.0.1").post(path, data, HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200, response.content
    return count


def main() -> None:
    if connection.vendor != "postgresql":
        print("token endpoint under gunicorn: skipped (set DATABASE_URL to a PostgreSQL database)")
        return
    keys.ensure()
    region = Organisation.objects.get(hsa_id=seed.REGION_HSA)
    user = User.objects.get(username="sara.staff")
    system, system_secret = _register(region, "client-credentials")
    service, service_secret = _register(region, "authorization-code")
    cc_auth, rt_auth = _basic(system, system_secret), _basic(service, service_secret)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    cc_body = urlencode({"grant_type": "client_credentials"}).encode()
    print(f"SQL statements, client credentials token request: "
          f"{_statements('/oauth2/token/', {'grant_type': 'client_credentials'}, cc_auth)}")
    print(f"SQL statements, refresh token request:            "
          f"{_statements('/oauth2/token/', {'grant_type': 'refresh_token', 'refresh_token': _refresh_token(service, user)}, rt_auth)}")  # noqa: E501

    port = _free_port()
    server = _serve(port)
    try:
        print(f"\ngunicorn: {WORKERS} workers x 4 threads (gthread), PostgreSQL, debug off; "
              f"{SECONDS_PER_POINT:.0f} s per point, load from this process")
        print(f"{'endpoint':20} {'c':>3} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
              f" {'fail':>5}   ratio to /healthz: req/s  p50  p99")
        chains: dict[int, str] = {}

        def refresh_request(thread: int) -> tuple[str, str, bytes, dict[str, str]]:
            body = urlencode({"grant_type": "refresh_token", "refresh_token": chains[thread]})
            return "POST", "/oauth2/token/", body.encode(), {**form, "Authorization": rt_auth}

        def refreshed(thread: int, content: bytes) -> None:
            chains[thread] = json.loads(content)["refresh_token"]

        for concurrency in CONCURRENCY:
            # Refresh tokens for this round are made before it starts (untimed).
            chains.clear()
            chains.update({n: _refresh_token(service, user) for n in range(concurrency)})
            base = _load(port, concurrency, lambda n: ("GET", "/healthz", b"", {}),
                         lambda n, c: None)
            rows = [("/healthz", base),
                    ("client credentials", _load(
                        port, concurrency,
                        lambda n: ("POST", "/oauth2/token/", cc_body,
                                   {**form, "Authorization": cc_auth}), lambda n, c: None)),
                    ("refresh", _load(port, concurrency, refresh_request, refreshed))]
            for name, (rate, p50, p99, failed) in rows:
                ratio = (f"   {rate / base[0]:20.2f} {p50 / base[1]:5.1f} {p99 / base[2]:5.1f}"
                         if name != "/healthz" else "")
                print(f"{name:20} {concurrency:3d} {rate:8.0f} {p50:8.2f} {p99:8.2f} "
                      f"{failed:5d}{ratio}")
    finally:
        server.terminate()
        server.wait(timeout=30)


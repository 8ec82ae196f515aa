"""Figures for the web processes as production runs them: the resident memory (VmRSS, in MB) of
each gunicorn worker after warm-up. Prints, never asserts (docs/deployment.md, "Capacity").

    DATABASE_URL=postgres://.../portal python -m benchmarks.serving

The database must be migrated and hold the demo region (`manage.py demo_data`) or the
national-scale data; this script writes only a login session (and its audit row) of the demo
local administrator `anna.admin`, when there is one, to warm up the administration pages. It
collects the static files and makes OIDC signing keys in a temporary folder, starts gunicorn with
portal/gunicorn.conf.py (production settings, debug off) on a free port, sends every path of
`PATHS` (and `ADMIN_PATHS` with the administrator's session) `BENCH_SERVING_ROUNDS` times (300
by default) over keep-alive connections, then reads VmRSS, VmHWM (the peak) and RssAnon (the
worker's own, not shared with the master) of each worker from /proc/<pid>/status.

Environment: `BENCH_SERVING_WORKERS` (2 by default), `BENCH_SERVING_ROUNDS`, `CELERY_BROKER_URL`
(else `REDIS_URL`, else redis://127.0.0.1:6379/15; `/readyz` needs it reachable to answer 200).
"""

from __future__ import annotations

import http.client
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_SERVING_ROUNDS", "300"))
WORKERS = int(os.environ.get("BENCH_SERVING_WORKERS", "2"))
#: Anonymous paths: liveness, readiness, the login pages, OIDC discovery and keys, a static file.
PATHS = ["/healthz", "/readyz", "/login/", "/", "/.well-known/openid-configuration",
         "/oauth2/jwks/", "/.well-known/authzen-configuration"]
#: Pages of a logged-in local administrator (LoA 3): the person list, a search, the audit log
#: and the e-service clients.
ADMIN_PATHS = ["/administration/", "/administration/?q=an", "/administration/audit/",
               "/administration/clients/", "/"]
ADMIN_USERNAME = "anna.admin"
USER_AGENT = "benchmarks.serving"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(var_dir: Path, port: int) -> dict[str, str]:
    """Production settings, debug off, on DATABASE_URL; secrets from the environment when set
    (so that data encrypted under them can be read), else made up for this run."""
    broker = os.environ.get("CELERY_BROKER_URL") or os.environ.get(
        "REDIS_URL", "redis://127.0.0.1:6379/15")
    fernet = Fernet.generate_key().decode()
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.base", "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_SECURE_SSL_REDIRECT": "false",
        "PORTAL_VAR_DIR": str(var_dir), "CELERY_BROKER_URL": broker,
        "PORTAL_TOTP_ENCRYPTION_KEYS": os.environ.get("PORTAL_TOTP_ENCRYPTION_KEYS") or fernet,
        "PORTAL_PROVISIONING_CREDENTIAL_KEYS":
            os.environ.get("PORTAL_PROVISIONING_CREDENTIAL_KEYS") or fernet,
        "PORTAL_OAUTH_CLIENT_SECRET_PEPPER":
            os.environ.get("PORTAL_OAUTH_CLIENT_SECRET_PEPPER") or secrets.token_hex(32),
        "PORTAL_AUDIT_SEAL_KEY_FILE": os.environ.get("PORTAL_AUDIT_SEAL_KEY_FILE")
            or str(var_dir / "audit-seal" / "seal-key.pem"),
        "PORTAL_BASE_URL": "https://localhost", "PORTAL_DB_CONN_MAX_AGE": "600",
        "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(WORKERS),
        "GUNICORN_ACCESS_LOG": "", "GUNICORN_LOG_LEVEL": "warning", "LOG_LEVEL": "WARNING",
    }


def _admin_session() -> str | None:
    """A session key of the demo local administrator logged in at LoA 3 (as a federated login
    leaves it), or None when the database has no such account. Runs with the settings of
    `_environment`, in this process."""
    import django

    django.setup()
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import login
    from django.http import HttpRequest

    from apps.authn import commission, session
    from apps.core.loa import LOA3
    from apps.identities.models import User

    user = User.objects.filter(username=ADMIN_USERNAME).first()
    if user is None:
        return None
    request = HttpRequest()
    request.META["HTTP_USER_AGENT"] = USER_AGENT
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.user = user
    session.set_login(request, loa=LOA3, methods=["saml"], idp="https://idp.benchmark.invalid/")
    commission.after_login(request, user)
    request.session.save()
    return str(request.session.session_key)


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "portal/gunicorn.conf.py",
         "portal.wsgi:application"], cwd=BASE_DIR, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            probe.request("GET", "/healthz")
            if probe.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def _warm_up(port: int, paths: list[str], cookie: str | None) -> Counter[str]:
    """Every path `ROUNDS` times over keep-alive connections (four per worker, taken in turn
    per round, so that every worker most likely sees every path); the count of each status
    seen per path."""
    headers = {"User-Agent": USER_AGENT, "Accept-Language": "sv"}
    if cookie:
        headers["Cookie"] = cookie
    statuses: Counter[str] = Counter()
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                   for _ in range(4 * WORKERS)]
    for conn in connections:
        conn.connect()
    for round_ in range(ROUNDS):
        conn = connections[round_ % len(connections)]
        for path in paths:
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionError):
                conn.close()  # idle past gunicorn's keep-alive: a new connection
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
            response.read()
            statuses[f"{response.status} {path}"] += 1
    for conn in connections:
        conn.close()
    return statuses


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def _memory(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM and RssAnon of `pid` (/proc/<pid>/status), and its Pss (its share of the
    pages it shares with the master and the other workers) and its private pages
    (/proc/<pid>/smaps_rollup), in MB."""
    figures = {}
    for source in ("status", "smaps_rollup"):
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon", "Pss", "Private_Clean", "Private_Dirty"):
                figures[name] = int(value.split()[0]) / 1024
    figures["Private"] = figures.pop("Private_Clean") + figures.pop("Private_Dirty")
    return figures


def main() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("serving: skipped (set DATABASE_URL to the PostgreSQL database to measure against)")
        return
    port = _free_port()
    var_dir = Path(tempfile.mkdtemp(prefix="portal-serving-"))
    env = _environment(var_dir, port)
    for command in (["collectstatic", "--noinput", "-v0"], ["oidc_keys_init", "--skip-checks"],
                    ["saml_sp_init", "--skip-checks"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=BASE_DIR, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    os.environ.update(env)
    session_key = _admin_session()
    server = _serve(env, port)
    try:
        workers = _children(server.pid)
        cold = {pid: _memory(pid) for pid in workers}
        began = time.perf_counter()
        statuses = _warm_up(port, PATHS, None)
        if session_key:
            cookie = f"sessionid={session_key}"
            statuses += _warm_up(port, ADMIN_PATHS, cookie)
        elapsed = time.perf_counter() - began
        warm = {pid: _memory(pid) for pid in workers}
        master = _memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(var_dir)  # the made-up keys and the collected files
    print(f"gunicorn: {WORKERS} workers (gthread), production settings, debug off; "
          f"{ROUNDS} rounds of {len(PATHS)} anonymous paths"
          + (f" and {len(ADMIN_PATHS)} pages of {ADMIN_USERNAME}" if session_key else
             f" (no {ADMIN_USERNAME}: administration pages not warmed up)")
          + f", {sum(statuses.values())} requests in {elapsed:.1f} s")
    print("answers: " + ", ".join(f"{key} x{count}" for key, count in sorted(statuses.items())))
    print(f"preload_app: {env.get('GUNICORN_PRELOAD', 'false')}; MB: RSS (VmRSS) when ready "
          "and after warm-up, its peak (VmHWM), its anonymous part, PSS and private pages")
    print(f"{'process':>14} {'RSS cold':>9} {'RSS warm':>9} {'peak':>7} {'anon':>7} "
          f"{'PSS':>7} {'private':>8}")
    for name, pid, figures in [("master", server.pid, master),
                               *[("worker", pid, warm[pid]) for pid in workers]]:
        start = f"{cold[pid]['VmRSS']:>9.1f}" if pid in cold else f"{'':>9}"
        print(f"{name + ' ' + str(pid):>14} {start} {figures['VmRSS']:>9.1f} "
              f"{figures['VmHWM']:>7.1f} {figures['RssAnon']:>7.1f} {figures['Pss']:>7.1f} "
              f"{figures['Private']:>8.1f}")


if __name__ == "__main__":
    main()

"""Provisioning figures (part of `make bench`): `BENCH_PROVISIONING_USERS` staff pushed to a local
scim2-server by `BENCH_PROVISIONING_WORKERS` worker processes, and the inbound SCIM server's create
and PATCH throughput. Prints, never asserts.

PostgreSQL only (skipped on SQLite, whose single writer would say nothing about workers side by
side). The figures run in a database of their own, next to the one `make bench` was given:
`<name>_provisioning`, or `BENCH_PROVISIONING_DATABASE`, dropped and created afresh each run (the
push consumes its jobs). A child process (`python -m benchmarks.provisioning`, which can be run by
hand with a DATABASE_URL of an empty database) migrates it and seeds, by PostgreSQL COPY (rows
only, not through the services):

- one care provider with `UNITS` care units; `BENCH_PROVISIONING_USERS` people, each with an
  employee HSA-id at one unit and one commission (medarbetaruppdrag) there;
- one `DownstreamSystem` receiving the care provider's people with every attribute group, pointing
  at a scim2-server started here (the same command line as `make run`'s local SCIM target,
  `apps.demo.scim_target`), bearer token;
- one pending `ProvisioningJob` per person (what a "person created" change queues).

Then it starts the worker processes (`python -m benchmarks.provisioning worker`, each looping
`apps.provisioning.push.push_due` until no job is open) and samples, every
`BENCH_PROVISIONING_SAMPLE_SECONDS`, the open jobs (the backlog) and each worker's resident memory.
It prints users per second, the total time against the goal (every user delivered within 5
minutes with 2 workers), each worker's peak resident memory (`ru_maxrss`) with its memory at the
start and the end, the backlog curve, the job results, and how many users the target holds at the
end. Before that, the target alone: `BASELINE` users created by 2 threads straight to another
scim2-server, the ceiling no worker count can pass. After it, the inbound SCIM server's create and
PATCH throughput (`BENCH_PROVISIONING_INBOUND` users), when it is in the build
(docs/benchmarks.md, "Provisioning").
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # a child process: set Django up before the models are imported
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    import django

    django.setup()

import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import secrets  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db import DatabaseError, connection  # noqa: E402

from benchmarks.bulk import copy_rows, row_uuid  # noqa: E402

#: Staff pushed (the goal's figures are for 100,000).
USERS = int(os.environ.get("BENCH_PROVISIONING_USERS", "2000"))
#: Worker processes pushing side by side (the goal: 2).
WORKERS = int(os.environ.get("BENCH_PROVISIONING_WORKERS", "2"))
#: Seconds between two samples of the backlog and the workers' memory.
SAMPLE_SECONDS = float(os.environ.get("BENCH_PROVISIONING_SAMPLE_SECONDS", "5"))
#: The workers are stopped after this many seconds whatever is left (a stuck run still prints).
MAX_SECONDS = float(os.environ.get("BENCH_PROVISIONING_MAX_SECONDS", "1800"))
#: Jobs per `push_due` call in a worker.
BATCH = 50
#: Care units of the seeded care provider.
UNITS = 50
#: Jobs pushed in process before the workers start, for the cost of one job.
ANATOMY = 100
#: Users the inbound figures create and then PATCH.
INBOUND = int(os.environ.get("BENCH_PROVISIONING_INBOUND", "500"))
#: Users created straight at the target, for its own ceiling (one request each, then in bulk).
BASELINE = 2000
#: Users per bulk request of the target's ceiling (the push's `CLAIM_SIZE`).
BULK_BASELINE = 50
#: The goal: every user delivered within this many seconds (with 2 workers).
GOAL_SECONDS = 300
#: Rows of the backlog curve printed at most (samples are thinned to fit).
CURVE_ROWS = 30
#: The care provider's HSA-id and organisation number (a valid Luhn number).
PROVIDER_HSA_ID = "SE2321000099-0001"
N = "\\N"


# ---- the seeded world ------------------------------------------------------------------------

def seed() -> Any:
    """The care provider, its units, the people with their employee HSA-ids and commissions
    (COPY), the downstream system and one pending job per person. Returns the system."""
    from django.utils import timezone

    from apps.commissions.vocabularies import Purpose
    from apps.organisations.models import Organisation

    now = timezone.now()
    stamp = now.isoformat()
    provider_id = row_uuid(30, 1)
    Organisation.objects.bulk_create([Organisation(
        id=provider_id, hsa_id=PROVIDER_HSA_ID, name="Region Benchmark", path=f"/{PROVIDER_HSA_ID}/",
        is_care_provider=True, care_provider_id=provider_id, org_number="232100-0099")])
    units = [(row_uuid(31, u + 1), f"SE2321000099-1{u + 1:03d}") for u in range(UNITS)]
    Organisation.objects.bulk_create([
        Organisation(id=unit_id, hsa_id=hsa_id, name=f"Vårdenhet {u + 1}", parent_id=provider_id,
                     path=f"/{PROVIDER_HSA_ID}/{hsa_id}/", is_care_unit=True,
                     care_provider_id=provider_id) for u, (unit_id, hsa_id) in enumerate(units)])

    def people() -> Iterator[str]:
        for i in range(USERS):
            yield (f"{row_uuid(32, i + 1)},{stamp},{stamp},Bench,Staff {i + 1},"
                   f"staff{i + 1}@bench.example,f\n")

    def employees() -> Iterator[str]:
        for i in range(USERS):
            yield (f"{row_uuid(33, i + 1)},{stamp},{stamp},{row_uuid(32, i + 1)},"
                   f"SE2321000099-E{i + 1:07d},{units[i % UNITS][0]},Sjuksköterska\n")

    def commissions() -> Iterator[str]:
        since = (now - timedelta(days=30)).isoformat()
        for i in range(USERS):
            yield (f"{row_uuid(34, i + 1)},{stamp},{stamp},{since},{N},Bench,{N},{N},,"
                   f"SE2321000099-C{i + 1:07d},Vård och behandling,{row_uuid(33, i + 1)},"
                   f"{Purpose.CARE},{provider_id},{units[i % UNITS][0]}\n")

    start = time.perf_counter()
    # No foreign key triggers while loading rows consistent by construction (a superuser's
    # setting; otherwise the triggers stay and the load is slower).
    with connection.cursor() as cursor, contextlib.suppress(DatabaseError):
        cursor.execute("SET session_replication_role = replica")
    copy_rows("identities_person",
          "id, created_at, updated_at, given_name, family_name, email, is_protected", people())
    copy_rows("commissions_employee",
          "id, created_at, updated_at, person_id, hsa_id, organisation_id, title", employees())
    copy_rows("commissions_commission",
          "id, created_at, updated_at, valid_from, valid_until, assigned_by_label, assigned_by_id, "
          "ended_at, end_reason, hsa_id, name, employee_id, purpose, care_provider_id, "
          "care_unit_id", commissions())
    with connection.cursor() as cursor:
        cursor.execute("RESET session_replication_role")
    print(f"  {USERS:,} people, employee HSA-ids and commissions (COPY): "
          f"{time.perf_counter() - start:.1f} s")
    return provider_id


def register(provider_id: str, base_url: str, token: str) -> Any:
    """The downstream system (rows only) and one pending job per person, in id order."""
    from apps.organisations.models import Organisation
    from apps.provisioning import credentials
    from apps.provisioning.models import DownstreamSystem

    system = DownstreamSystem.objects.create(
        organisation_id=provider_id, name="Bench target", base_url=base_url,
        auth_method=DownstreamSystem.AuthMethod.BEARER,
        credentials=credentials.encrypt({"token": token}),
        attributes=[code for code, _ in DownstreamSystem.ATTRIBUTE_CHOICES],
        created_by_label="Bench")
    system.scope.set([Organisation.objects.get(pk=provider_id)])
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO provisioning_provisioningjob (system_id, person_id, key, change, state, "
            "created_at, available_at, attempts, last_error, result, request_id) "
            "SELECT %s, id, 'bench:' || id, 'person.created', 'pending', now(), now(), 0, '', '', '' "
            "FROM identities_person ORDER BY id", [system.pk])
        cursor.execute("VACUUM (ANALYZE)")
    print(f"  {USERS:,} pending jobs (one per person) and VACUUM (ANALYZE): "
          f"{time.perf_counter() - start:.1f} s")
    return system


# ---- the target ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Target:
    """A scim2-server on a free port of 127.0.0.1 (`make run`'s command line) with a new token."""

    def __init__(self, folder: Path) -> None:
        from apps.demo.scim_target import server_command

        self.port = _free_port()
        self.token = secrets.token_urlsafe(32)
        self.base_url = f"http://127.0.0.1:{self.port}/v2"
        self.log = (folder / f"scim2-server-{self.port}.log").open("w")
        self.process = subprocess.Popen(
            server_command(host="127.0.0.1", port=self.port, token=self.token, directory=folder),
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while self.get("/ServiceProviderConfig") is None:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("scim2-server did not start")
            time.sleep(0.2)

    def get(self, path: str) -> Any:
        """GET `path` below the base URL with the token: the JSON body, None when unreachable."""
        request = urllib.request.Request(f"{self.base_url}{path}",
                                         headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.load(response)
        except (urllib.error.HTTPError, OSError):
            return None

    def users(self) -> int | None:
        """How many Users the target holds."""
        found = self.get("/Users?count=0")
        return None if found is None else int(found["totalResults"])

    def rss_mb(self) -> float:
        return _rss_mb(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


def baseline(folder: Path) -> None:
    """`BASELINE` users of the portal's shape, created by 2 threads straight at a scim2-server of
    their own: the target's ceiling."""
    import httpx2

    from apps.provisioning.schema import HSA_USER_SCHEMA

    target = Target(folder)
    per_thread = BASELINE // 2

    def user(n: int) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", HSA_USER_SCHEMA],
            "userName": f"SE2321000099-E{n:07d}", "externalId": row_uuid(32, n + 1),
            "name": {"givenName": "Bench", "familyName": f"Staff {n}"},
            "emails": [{"value": f"staff{n}@bench.example", "type": "work"}],
            HSA_USER_SCHEMA: {
                "employments": [{"hsaId": f"SE2321000099-E{n:07d}"}],
                "commissions": [{"hsaId": f"SE2321000099-C{n:07d}",
                                 "name": "Vård och behandling"}],
                "careUnits": ["SE2321000099-0001"]}}

    def create(thread: int, bulk: bool) -> None:
        with httpx2.Client(base_url=target.base_url, timeout=60,
                           headers={"Authorization": f"Bearer {target.token}",
                                    "Content-Type": "application/scim+json"}) as http:
            numbers = [(2 if bulk else 0) * BASELINE + thread * per_thread + i
                       for i in range(per_thread)]
            if not bulk:
                for n in numbers:
                    http.post("/Users", json=user(n)).raise_for_status()
                return
            for first in range(0, per_thread, BULK_BASELINE):
                http.post("/Bulk", json={
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                    "Operations": [{"method": "POST", "path": "/Users", "bulkId": f"u{n}",
                                    "data": user(n)}
                                   for n in numbers[first:first + BULK_BASELINE]]},
                          ).raise_for_status()

    for bulk, what in ((False, "POST /Users"), (True, f"POST /Bulk of {BULK_BASELINE} users")):
        threads = [threading.Thread(target=create, args=(t, bulk)) for t in range(2)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        print(f"  the target alone: {BASELINE:,} users by 2 threads ({what}) in {elapsed:.1f} s, "
              f"{BASELINE / elapsed:,.0f} users/s (its ceiling)")
    target.stop()


# ---- the workers -----------------------------------------------------------------------------

def _rss_mb(pid: int) -> float:
    """The resident memory of process `pid` now, in MB (0 once it has ended)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def open_jobs() -> dict[str, int]:
    """The jobs by state."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT state, count(*) FROM provisioning_provisioningjob GROUP BY state")
        return dict(cursor.fetchall())


def worker() -> None:
    """A worker process: prints `ready` once set up, waits for a line on its standard input, then
    runs `push_due` until no job is open; prints one JSON line: what it pushed
    (`PushReport.as_dict`), its seconds and peak resident memory (MB)."""
    from apps.provisioning.models import ProvisioningJob
    from apps.provisioning.push import push_due

    settings.DEBUG = False  # as in production: no query log (the test settings turn it on)
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # not a line per request
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    totals: Counter[str] = Counter()
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    open_states = (ProvisioningJob.State.PENDING, ProvisioningJob.State.IN_PROGRESS)
    while not stop.is_set():
        report = push_due(limit=BATCH)
        done = report.as_dict()
        totals.update(done)
        if sum(done.values()) == 0:
            if not ProvisioningJob.objects.filter(state__in=open_states).exists():
                break
            time.sleep(0.2)  # the rest are another worker's, or wait for their retry
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"pushed": dict(totals), "seconds": time.perf_counter() - start,
                      "peak_rss_mb": peak}), flush=True)


class _HttpRequests(logging.Handler):
    """Counts the HTTP requests httpx2 logs (`HTTP Request: <method> <url> ...`, level INFO), by
    method."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.methods: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and record.args:
            self.methods[str(record.args[0])] += 1


def anatomy() -> None:
    """`ANATOMY` jobs pushed by `push_due` in this process, one worker alone: milliseconds, SQL
    statements and HTTP requests (by method) per job, what the workers' figures are made of."""
    from django.test.utils import CaptureQueriesContext

    from apps.provisioning.push import push_due

    requests = _HttpRequests()
    http_logger = logging.getLogger("httpx2")
    http_logger.addHandler(requests)
    level = http_logger.level
    http_logger.setLevel(logging.INFO)
    http_logger.propagate = False
    try:
        push_due(limit=5)  # warm: the connection, the target's groups
        requests.methods.clear()
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            report = push_due(limit=ANATOMY)
            elapsed = time.perf_counter() - start
    finally:
        http_logger.removeHandler(requests)
        http_logger.setLevel(level)
        http_logger.propagate = True
    jobs = sum(report.as_dict().values())
    kinds = Counter(q["sql"].split(None, 1)[0].upper() for q in queries.captured_queries)
    print(f"  one worker alone, in process: {jobs} jobs in {elapsed:.1f} s, "
          f"{elapsed * 1000 / jobs:.0f} ms per job; per job "
          + ", ".join(f"{kind} {n / jobs:.2f}" for kind, n in kinds.most_common())
          + " SQL statements; HTTP requests per job: "
          + ", ".join(f"{method} {n / jobs:.2f}" for method, n in requests.methods.most_common()))


def push(system: Any, target: Target) -> None:
    """Start the workers, sample the backlog and memory until they end, print the figures."""
    env = {**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"]}
    processes = [subprocess.Popen([sys.executable, "-m", "benchmarks.provisioning", "worker"],
                                  cwd=settings.BASE_DIR, env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
                 for _ in range(WORKERS)]
    for p in processes:  # Django set up in each, then all start at once
        if p.stdout is None or p.stdout.readline().strip() != "ready":
            raise RuntimeError("a worker did not start (its error is above)")
    for p in processes:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    start = time.monotonic()
    done_before = open_jobs().get("done", 0)  # the in-process jobs of `anatomy`
    pids = [p.pid for p in processes]
    samples: list[tuple[float, int, int, list[float], float]] = []
    first_rss: list[float] = [0.0] * WORKERS
    while True:
        time.sleep(SAMPLE_SECONDS)
        elapsed = time.monotonic() - start
        states = open_jobs()
        backlog = states.get("pending", 0) + states.get("in_progress", 0)
        rss = [_rss_mb(pid) for pid in pids]
        first_rss = [f or r for f, r in zip(first_rss, rss, strict=True)]
        samples.append((elapsed, backlog, states.get("done", 0) - done_before, rss,
                        target.rss_mb()))
        if all(p.poll() is not None for p in processes):
            break
        if elapsed > MAX_SECONDS:
            for p in processes:
                p.send_signal(signal.SIGTERM)
    total = time.monotonic() - start
    reports = []
    for n, p in enumerate(processes):
        out, _ = p.communicate(input="")
        line = out.strip().splitlines()[-1] if out.strip() else ""
        try:
            reports.append(json.loads(line))
        except ValueError:
            print(f"  worker {n + 1} ended with {p.returncode} and no report")
    states = open_jobs()
    done = states.get("done", 0) - done_before
    # The first sample with no work left, so the figure is not diluted by sampling after it.
    busy = next((s[0] for s in samples if s[1] == 0), total)
    print(f"  {done:,} jobs done by the workers in {busy:.0f} s (sampled every "
          f"{SAMPLE_SECONDS:g} s) with {WORKERS} workers: {done / busy:,.1f} users/s; jobs by "
          "state: " + ", ".join(f"{k} {v:,}" for k, v in sorted(states.items())))
    if WORKERS == 2 and USERS >= 100_000:
        print(f"  goal: 100,000 users within {GOAL_SECONDS} s with 2 workers: "
              f"{'met' if states.get('done', 0) >= 100_000 and busy <= GOAL_SECONDS else 'missed'}")
    else:
        print(f"  at this rate 100,000 users would take {100_000 / max(done / busy, 1e-9):,.0f} s "
              f"with {WORKERS} workers (goal: {GOAL_SECONDS} s with 2)")
    for n, report in enumerate(reports):
        last = next((s[3][n] for s in reversed(samples) if s[3][n]), 0.0)
        print(f"  worker {n + 1}: peak RSS {report['peak_rss_mb']:.0f} MB (first sample "
              f"{first_rss[n]:.0f} MB, last {last:.0f} MB); "
              + ", ".join(f"{k} {v:,}" for k, v in report["pushed"].items() if v))
    print(f"  the target holds {target.users()} users; its RSS {target.rss_mb():.0f} MB")
    print(f"  backlog (open jobs) and resident memory, MB:\n  {'s':>6} {'open':>8} {'done':>8} "
          + " ".join(f"{f'w{n + 1}':>6}" for n in range(WORKERS)) + f" {'target':>7}")
    step = max(1, len(samples) // CURVE_ROWS)
    for i, (elapsed, backlog, finished, rss, target_rss) in enumerate(samples):
        if i % step == 0 or i == len(samples) - 1:
            print(f"  {elapsed:6.0f} {backlog:8,} {finished:8,} "
                  + " ".join(f"{r:6.0f}" for r in rss) + f" {target_rss:7.0f}")


# ---- inbound ---------------------------------------------------------------------------------

def inbound(provider_id: str) -> None:
    """The inbound SCIM server's throughput (`/scim/v2/`), in process through Django's test
    client: `INBOUND` HR users created (POST /Users: a joiner each) and each renamed (PATCH
    name.givenName), by an HR system of the seeded care provider with a client credentials token
    (scope `scim`). The outbox is not delivered meanwhile (as with a broker, the request only
    enqueues its events)."""
    import statistics

    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext
    from django.urls import Resolver404, resolve

    import apps.outbox.services as outbox_services
    from apps.core.actors import SYSTEM
    from apps.federation import services_oidc
    from apps.federation.oidc import keys
    from apps.organisations.models import Organisation
    from benchmarks.oidc import _basic

    try:
        resolve("/scim/v2/Users")
    except Resolver404:
        print("  inbound SCIM: skipped (no inbound SCIM server at /scim/v2/ in this build)")
        return
    settings.DEBUG = False  # as in production: no query log (the test settings turn it on)
    outbox_services._wake_deliverer = lambda: None  # type: ignore[assignment]
    keys.ensure()
    registered = services_oidc.client_register(
        actor=SYSTEM, organisation=Organisation.objects.get(pk=provider_id), name="Bench HR system",
        contact_name="Bench", contact_email="hr@bench.example", client_type="confidential",
        grant_type="client-credentials", redirect_uris=[], post_logout_redirect_uris=[],
        allowed_scopes=["scim"], allowed_claims=[], algorithm="ES256", first_party=True)
    client = services_oidc.client_approve(actor=SYSTEM, client=registered.client)
    http = DjangoClient(HTTP_HOST="127.0.0.1")
    answer = http.post("/oauth2/token/", {"grant_type": "client_credentials", "scope": "scim"},
                       HTTP_AUTHORIZATION=_basic(client, registered.secret))
    token = answer.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    scim = "application/scim+json"

    def create(n: int) -> str:
        response = http.post("/scim/v2/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"hr.user{n}",
            "name": {"givenName": "Inbound", "familyName": f"Bench {n}"},
            "emails": [{"value": f"hr.user{n}@bench.example", "type": "work"}]},
            content_type=scim, headers=headers)
        assert response.status_code == 201, response.content
        return str(response.json()["id"])

    def rename(user_id: str) -> None:
        response = http.patch(f"/scim/v2/Users/{user_id}", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "name.givenName", "value": "Renamed"}]},
            content_type=scim, headers=headers)
        assert response.status_code in (200, 204), response.content  # RFC 7644 §3.5.2

    ids, created_ms, patched_ms = [], [], []
    for n in range(INBOUND):
        began = time.perf_counter()
        ids.append(create(n))
        created_ms.append((time.perf_counter() - began) * 1000)
    for user_id in ids:
        began = time.perf_counter()
        rename(user_id)
        patched_ms.append((time.perf_counter() - began) * 1000)
    with CaptureQueriesContext(connection) as create_queries:
        extra = create(INBOUND)
    with CaptureQueriesContext(connection) as patch_queries:
        rename(extra)
    for name, values, queries in (
            ("POST /scim/v2/Users (a joiner)", created_ms, create_queries),
            ("PATCH /scim/v2/Users/<id> (name.givenName)", patched_ms, patch_queries)):
        ordered = sorted(values)
        print(f"  inbound {name:44} {1000 * len(values) / sum(values):6.1f} /s   "
              f"p50 {statistics.median(values):6.1f} ms   "
              f"p99 {ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]:6.1f} ms   "
              f"{len(queries.captured_queries)} SQL statements "
              f"({len(values):,}, one client, in process)")


# ---- the two processes -----------------------------------------------------------------------

def run() -> None:
    """The child process: migrate, seed, the target's ceiling, the push, the inbound figures."""
    import logging

    from django.core.management import call_command

    logging.getLogger("celery").setLevel(logging.WARNING)
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # not a line per request
    print(f"\nprovisioning: database {settings.DATABASES['default']['NAME']}, {USERS:,} users, "
          f"{WORKERS} workers; load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} CPUs")
    call_command("migrate", verbosity=0)
    folder = Path(tempfile.mkdtemp(prefix="portal-bench-scim-"))
    baseline(folder)
    target = Target(folder)
    try:
        provider_id = seed()
        system = register(provider_id, target.base_url, target.token)
        settings.DEBUG = False  # as in production: no query log (the test settings turn it on)
        anatomy()
        push(system, target)
    finally:
        target.stop()
    inbound(provider_id)


def main() -> None:
    """Called by benchmarks.run: the figures in a child process on a fresh database."""
    if connection.vendor != "postgresql":
        print("provisioning at scale: skipped (PostgreSQL only: set DATABASE_URL to a PostgreSQL "
              "database)")
        return
    from benchmarks.databases import database_url, server_connection

    name = (os.environ.get("BENCH_PROVISIONING_DATABASE")
            or f"{settings.DATABASES['default']['NAME']}_provisioning")
    server = server_connection()
    with server.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    server.close()
    env = {**os.environ, "DATABASE_URL": database_url(name)}
    subprocess.run([sys.executable, "-m", "benchmarks.provisioning"], cwd=settings.BASE_DIR,
                   env=env, check=True)


if __name__ == "__main__":
    worker() if sys.argv[1:] == ["worker"] else run()

"""`make bench`: figures for the portal's hot paths on the demo region. Prints, never asserts.

Uses a throw-away SQLite database under a temporary folder unless DATABASE_URL is set (then that
database must be empty or hold only the demo region). The revocation figures add 100,000 revoked
e-IDs in bulk (rows only, not through the services) to time the CRL and OCSP endpoints at scale;
the whole run takes a minute or two. On PostgreSQL the rules service's figures follow, in a
database of their own (benchmarks/rules.py; `BENCH_RULES_PEOPLE=1000000` for the goal's scale),
then provisioning to a local scim2-server, in another (benchmarks/provisioning.py;
`BENCH_PROVISIONING_USERS=100000` for the goal's scale).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
_tmp = tempfile.mkdtemp(prefix="portal-bench-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_tmp}/bench.sqlite3")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from apps.commissions.policies import scope_roots  # noqa: E402
from apps.commissions.selectors import person_search_in_scope  # noqa: E402
from apps.core.actors import MOBILE_APP, SYSTEM  # noqa: E402
from apps.demo import seed  # noqa: E402
from apps.identities.identifiers import parse_person_number  # noqa: E402
from apps.identities.models import User  # noqa: E402
from apps.issuance import authority, revocation, selectors, services, tasks  # noqa: E402
from apps.issuance.models import ActivationCode, MobileEID  # noqa: E402

#: Revoked e-IDs for the CRL and OCSP figures.
REVOKED_AT_SCALE = 100_000


def _csr() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench phone")])).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def activation_round_trip() -> MobileEID:
    """Issue a code for sara.staff and redeem it with a fresh CSR; returns the new e-ID."""
    person = User.objects.get(username="sara.staff").person
    issued = services.activation_code_issue(actor=SYSTEM, person=person)
    return services.activation_code_redeem(actor=MOBILE_APP, csr_pem=_csr(),
                                           device_name="bench phone",
                                           qr_payload=issued.qr_payload).eid


def set_aside(eid: MobileEID) -> None:
    """Mark `eid` revoked, untimed and without the services (at most 3 active e-IDs per person;
    the revocation services are timed at scale below)."""
    MobileEID.objects.filter(pk=eid.pk).update(
        status=MobileEID.Status.REVOKED, revoked_at=eid.not_before, revocation_reason="benchmark")


def add_revoked_eids(count: int) -> list[MobileEID]:
    """`count` revoked e-IDs of sara.staff in bulk (bench only: no certificates, no audit rows),
    plus 3 active ones to revoke later; returns the active ones."""
    from django.utils import timezone

    person = User.objects.get(username="sara.staff").person
    now = timezone.now()
    total = count + 3
    codes = ActivationCode.objects.bulk_create(
        [ActivationCode(person=person, created_by_label="bench", secret_hash=f"{i:064x}",
                        short_hash=f"{i:064x}", expires_at=now + dt.timedelta(minutes=10),
                        used_at=now) for i in range(total)], batch_size=5000)
    eids = MobileEID.objects.bulk_create(
        [MobileEID(person=person, activation_code=code, serial=format(2**120 + i, "x"),
                   fingerprint_sha256=f"{i:064x}", certificate_pem="bench",
                   not_before=now, not_after=now + dt.timedelta(days=730), device_name="bench",
                   status=MobileEID.Status.REVOKED if i < count else MobileEID.Status.ACTIVE,
                   revoked_at=now if i < count else None,
                   revocation_reason="benchmark" if i < count else "")
         for i, code in enumerate(codes)], batch_size=5000)
    return eids[count:]


def revocation_at_scale() -> None:
    """CRL build and serve times, and an OCSP answer, with `REVOKED_AT_SCALE` revoked e-IDs."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp
    from django.test import Client

    from apps.issuance.ocsp import issuer_hashes

    start = time.perf_counter()
    active = add_revoked_eids(REVOKED_AT_SCALE)
    print(f"{f'add {REVOKED_AT_SCALE:,} revoked e-IDs (bulk)':48} "
          f"{time.perf_counter() - start:8.2f} s")
    # The scheduled run recounts the revoked e-IDs, so it takes in the rows added in bulk.
    start = time.perf_counter()
    tasks.crl_refresh_task()
    print(f"{'CRL build by the scheduled run (recount)':48} {time.perf_counter() - start:8.2f} s")
    builds = []
    for eid in active:
        time.sleep(1)  # a CRL made in the same second as the last one waits for the next second
        start = time.perf_counter()
        services.eid_revoke(actor=SYSTEM, eid=eid, reason="benchmark")
        builds.append(time.perf_counter() - start)
    crl = revocation.crl_refresh(actor=revocation.CRL_PUBLISHER)
    size = len(bytes(selectors.crl_with_der(crl).der or b""))
    print(f"{'revoke an e-ID, its CRL built on commit':48} "
          f"median {statistics.median(builds):8.3f} s    max {max(builds):8.3f} s   "
          f"{crl.entries:,} entries, {size / 1e6:.1f} MB DER")
    client = Client(HTTP_HOST="localhost")
    etag = client.get("/issuance/crl")["ETag"]
    measure(f"GET /issuance/crl ({crl.entries:,} entries, current)",
            lambda: client.get("/issuance/crl"), repeat=20, queries=False)
    measure("GET /issuance/crl with If-None-Match (304)",
            lambda: client.get("/issuance/crl", headers={"if-none-match": etag}), repeat=50,
            queries=False)
    # An OCSP request names the issuer by hashes and the certificate by serial only.
    name_hash, key_hash = issuer_hashes(authority.ca_load().cert, hashes.SHA1())
    request = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        name_hash, key_hash, int(active[0].serial, 16), hashes.SHA1()
    ).build().public_bytes(serialization.Encoding.DER)
    measure("POST /issuance/ocsp (a revoked serial)",
            lambda: client.post("/issuance/ocsp", data=request,
                                content_type="application/ocsp-request"),
            repeat=50, queries=False)


def measure(name: str, fn: Callable[[], Any], repeat: int = 50, queries: bool = True,
            after: Callable[[Any], object] = lambda result: None) -> None:
    """Run `fn` `repeat` times; print median and p95 in milliseconds and queries per call
    (`queries=False` for requests through the test client: Django resets the query log at each
    request's start). `after` gets each result, untimed."""
    after(fn())
    times = []
    with CaptureQueriesContext(connection) as captured:
        after(fn())
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
        after(result)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"{name:48} median {statistics.median(times):8.3f} ms   p95 {p95:8.3f} ms   "
          + (f"{len(captured.captured_queries):3d} queries" if queries else ""))


def api_parser_worst_cases() -> None:
    """The API's JSON parser on bodies of the largest size it reads (64 KiB)."""
    import contextlib
    import io
    import json
    from functools import partial

    from rest_framework.exceptions import ParseError

    from apps.api.parsers import MAX_BODY_BYTES, MAX_DEPTH, JSONParser

    def parse(body: bytes) -> None:
        with contextlib.suppress(ParseError):
            JSONParser().parse(io.BytesIO(body), "application/json")

    flat = json.dumps({"csr": "A" * (MAX_BODY_BYTES - 20)}).encode()
    nested = ("[" * MAX_DEPTH + "0," * ((MAX_BODY_BYTES - 2 * MAX_DEPTH) // 2) + "0"
              + "]" * MAX_DEPTH).encode()[:MAX_BODY_BYTES]
    escaped = json.dumps({"csr": '\\"[{' * ((MAX_BODY_BYTES - 20) // 8)}).encode()
    unterminated = b'["' + b'\\"[' * ((MAX_BODY_BYTES - 2) // 3)  # an open string to the end
    for name, body in (("a long string", flat), (f"{MAX_DEPTH} levels", nested),
                       ("escapes", escaped), ("[] pairs", b"[]" * (MAX_BODY_BYTES // 2)),
                       ("open string", unterminated), ("too deep", b"[" * MAX_BODY_BYTES)):
        measure(f"API JSON parser, 64 KiB body, {name}", partial(parse, body), repeat=200,
                queries=False)


def main() -> None:
    import logging

    logging.getLogger("celery").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    loaded = seed.seed()
    if loaded:
        print(f"{'demo region load (through the services)':48} {time.perf_counter() - start:8.2f} s")
    roots = scope_roots(SYSTEM)
    measure("person search, empty query, first page of 25",
            lambda: list(person_search_in_scope(roots)[:25]))
    measure("person search by family name", lambda: list(person_search_in_scope(roots, "Berg")[:25]))
    measure("person search by personnummer",
            lambda: list(person_search_in_scope(roots, "19121212-1212")[:25]))
    measure("parse_person_number", lambda: parse_person_number("19121212-1212"), repeat=2000)
    api_parser_worst_cases()
    from django.conf import settings

    settings.ISSUANCE_CA_DIR = Path(_tmp) / "ca"
    authority.ca_ensure()
    measure("activation: issue code, redeem with CSR", activation_round_trip, repeat=30,
            after=set_aside)
    authority.ocsp_responder_ensure(authority.ca_load())
    from benchmarks import audit_search, federation, mobile_eid, oidc, outbox

    outbox.main(measure)
    federation.main(measure, Path(_tmp))
    oidc.main()
    mobile_eid.main(measure)
    audit_search.main(measure)
    revocation_at_scale()
    reset_queries()
    from benchmarks import provisioning, rules

    rules.main()
    provisioning.main()
    print(f"database: {connection.vendor}")


if __name__ == "__main__":
    main()

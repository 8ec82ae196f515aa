"""`make bench`: figures for the portal's hot paths on the demo region. Prints, never asserts.

Uses a throw-away SQLite database under a temporary folder unless DATABASE_URL is set (then that
database must be empty or hold only the demo region).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

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
from apps.issuance import authority, selectors, services  # noqa: E402


def _csr() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench phone")])).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def activation_round_trip() -> None:
    """Issue a code for sara.staff, redeem it with a fresh CSR, revoke the e-ID (3 e-IDs at most)."""
    person = User.objects.get(username="sara.staff").person
    issued = services.activation_code_issue(actor=SYSTEM, person=person)
    activation = services.activation_code_redeem(actor=MOBILE_APP, csr_pem=_csr(), device_name="bench phone",
                                                 qr_payload=issued.qr_payload)
    services.eid_revoke(actor=SYSTEM, eid=activation.eid, reason="benchmark")


def measure(name: str, fn: Callable[[], object], repeat: int = 50, queries: bool = True) -> None:
    """Run `fn` `repeat` times; print median and p95 in milliseconds and queries per call
    (`queries=False` for requests through the test client: Django resets the query log at each
    request's start)."""
    fn()
    times = []
    with CaptureQueriesContext(connection) as captured:
        fn()
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
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
    measure("activation: issue code, redeem with CSR, revoke", activation_round_trip, repeat=30)
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    revoked = selectors.revoked_list()
    assert client.get("/issuance/crl").status_code == 200
    measure(f"GET /issuance/crl ({len(list(revoked))} revoked serials)",
            lambda: client.get("/issuance/crl"), repeat=30, queries=False)
    reset_queries()
    print(f"database: {connection.vendor}")


if __name__ == "__main__":
    main()

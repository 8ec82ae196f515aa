"""`manage.py testidp [addr:port]`: serve the local test IdP (apps/testidp) for development.

Refused unless debug is on (`settings.TESTIDP_ENABLED`, which is `DEBUG`): a test IdP logs anyone
in as anyone, so it never runs beside a production configuration. `make run` starts it through
`manage.py runportal`.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.core.servers.basehttp import run

REFUSAL = "The test IdP runs only in development: set DJANGO_DEBUG=true."


def enabled() -> bool:
    """True only with debug on and the test IdP enabled (both, whatever a settings file says)."""
    return bool(settings.DEBUG and getattr(settings, "TESTIDP_ENABLED", False))


def parse_addrport(value: str) -> tuple[str, int]:
    """`host:port` or `port` → (host, port); raises CommandError."""
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"Not an address and port: {value!r} (e.g. 127.0.0.1:8001).")
    return host or "127.0.0.1", int(port)


class Command(BaseCommand):
    help = ("Serve the local test SAML IdP (personalities staff and citizen) for development; "
            "refused unless DJANGO_DEBUG is true.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("addrport", nargs="?", default="",
                            help="host:port (default: the host and port of TESTIDP_BASE_URL)")

    def handle(self, *args: Any, addrport: str, **options: Any) -> None:
        if not enabled():
            raise CommandError(REFUSAL)
        # pysaml2 is imported only now, so a refusal is one line. Its import-time noise: a
        # CryptographyDeprecationWarning (CFB) and xmlschema's "already loaded" message.
        warnings.filterwarnings("ignore", message="CFB has been moved", module="saml2")
        logging.getLogger("xmlschema").setLevel(logging.ERROR)
        from apps.testidp.idp import PERSONALITIES, TestIdP
        from apps.testidp.web import TestIdPApp

        base_url = settings.TESTIDP_BASE_URL
        host, port = parse_addrport(addrport or urlsplit(base_url).netloc or "127.0.0.1:8001")
        idps = {name: TestIdP(name, base_url, settings.TESTIDP_KEY_DIR,
                              sp_metadata_url=settings.TESTIDP_SP_METADATA_URL)
                for name in PERSONALITIES}
        self.stdout.write(f"Test IdP on http://{host}:{port}/ (entityIDs {base_url}/staff/metadata, "
                          f"{base_url}/citizen/metadata; SP metadata from "
                          f"{settings.TESTIDP_SP_METADATA_URL})")
        run(host, port, cast(Any, TestIdPApp(idps, own_connections=True)), ipv6=":" in host, threading=True)

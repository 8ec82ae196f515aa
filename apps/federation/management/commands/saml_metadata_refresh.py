"""Apply SAML_IDPS and refresh every enabled IdP's metadata now (what the scheduler does every
hour), printing each IdP's state. `--wait N` retries for up to N seconds while an IdP's metadata
is still missing (`make run` starts the local test IdP beside the portal and refreshes once it
answers, so the login page offers it at once)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import translation

from apps.federation import services
from apps.federation.actors import SAML_SP
from apps.federation.models import IdentityProvider


class Command(BaseCommand):
    help = "Refresh the metadata of the configured SAML IdPs now."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--wait", type=int, default=0,
                            help="Retry for up to this many seconds while metadata is missing.")

    def handle(self, *args: Any, wait: int, **options: Any) -> None:
        deadline = time.monotonic() + max(wait, 0)
        while True:
            idps = [services.idp_metadata_refresh(actor=SAML_SP, idp=idp)
                    for idp in services.idps_configure(actor=SAML_SP)]
            missing = [idp for idp in idps if not idp.metadata_xml]
            if not missing or time.monotonic() >= deadline:
                break
            time.sleep(2)
        for idp in idps:
            with translation.override("en"):  # the console speaks English, as runserver does
                state = str(IdentityProvider.State(idp.metadata_state).label)
            line = f"{idp.name}: {state}" + (f" ({idp.metadata_error})" if idp.metadata_error
                                             else "")
            self.stdout.write(line)

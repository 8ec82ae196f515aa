"""The portal's issuing CA as configured in settings: where its files live, loading, the CRL.

The CA key and certificate are files outside the database (`settings.ISSUANCE_CA_DIR`:
`ca.key`, mode 0600, and `ca.pem`), created by `manage.py issuance_ca_init`. Nothing is cached
between requests, so every web process reads the same files and agrees on the CA.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.urls import reverse

from apps.issuance.ca import CAPaths, IssuingCA, ensure_ca, load_ca

#: nextUpdate of a published CRL, seconds after thisUpdate. The CRL is built per request, so a
#: relying party that fetches it again after this time sees every revocation made since.
CRL_NEXT_UPDATE_SECONDS = 3600
#: Organisation (O) of the CA certificate's subject, unless settings say otherwise.


def ca_paths() -> CAPaths:
    """`ca.key` and `ca.pem` in `settings.ISSUANCE_CA_DIR`."""
    directory = Path(settings.ISSUANCE_CA_DIR)
    return CAPaths(key=directory / "ca.key", cert=directory / "ca.pem")


def ca_ensure() -> bool:
    """Create the CA unless it exists (True when created). See `apps.issuance.ca.ensure_ca`."""
    return ensure_ca(
        ca_paths(),
        common_name=settings.ISSUANCE_CA_NAME,
        organisation=settings.ISSUANCE_CA_ORGANISATION,
    )


def ca_load() -> IssuingCA:
    """The CA from its files; raises `CAError` (`ca.missing`, ...) when they are unusable."""
    return load_ca(ca_paths())


def crl_url() -> str:
    """The stable public URL of the CRL, written into every certificate (cRLDistributionPoints)."""
    return settings.PORTAL_BASE_URL + reverse("issuance:crl")


def crl_number(now: dt.datetime) -> int:
    """A CRL number from the clock: seconds since the epoch of thisUpdate.

    RFC 5280 5.2.3 asks for increasing numbers; deriving them from the time keeps the CRL stateless,
    so any number of web processes (with synchronised clocks) publish consistent CRLs.
    """
    return int(now.timestamp())

"""The portal's issuing CA as configured in settings: where its files live, loading, the URLs
written into certificates, and the timing of the revocation services (CRL and OCSP).

The CA key and certificate are files outside the database (`settings.ISSUANCE_CA_DIR`:
`ca.key`, mode 0600, and `ca.pem`), created by `manage.py issuance_ca_init`; so are the delegated
OCSP responder's `ocsp.key` (mode 0600) and `ocsp.pem`. Nothing is cached between requests, so
every web process reads the same files and agrees on the CA.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.urls import reverse

from apps.issuance.ca import (
    CAPaths,
    IssuingCA,
    OCSPResponder,
    ensure_ca,
    ensure_ocsp_responder,
    load_ca,
    load_ocsp_responder,
)

#: A CRL's nextUpdate is this many seconds after its thisUpdate (never past the CA's notAfter).
#: A relying party that fetches the CRL again by then sees every revocation made since.
CRL_VALIDITY_SECONDS = 3600
#: HTTP caches keep a served CRL at most this long (`Cache-Control: max-age`), so a revocation
#: reaches a relying party behind a cache within 5 minutes even though nextUpdate is later.
CRL_MAX_AGE_SECONDS = 300
#: nextUpdate of an OCSP response, seconds after its thisUpdate (the status is read per request).
OCSP_RESPONSE_VALIDITY_SECONDS = 300
#: Validity of the delegated OCSP responder certificate. It carries id-pkix-ocsp-nocheck, so
#: nobody can check its revocation: RFC 6960 4.2.2.2.1 asks for a short lifetime.
OCSP_RESPONDER_VALIDITY_SECONDS = 30 * 24 * 3600
#: The responder certificate is renewed (new key) when it ends within this many seconds.
OCSP_RESPONDER_RENEW_BEFORE_SECONDS = 10 * 24 * 3600


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


def ocsp_url() -> str:
    """The stable public URL of the OCSP responder, written into every certificate
    (authorityInfoAccess, RFC 5280 4.2.2.1)."""
    return settings.PORTAL_BASE_URL + reverse("issuance:ocsp")


def ocsp_paths() -> CAPaths:
    """`ocsp.key` and `ocsp.pem` of the delegated OCSP responder, beside the CA's files."""
    directory = Path(settings.ISSUANCE_CA_DIR)
    return CAPaths(key=directory / "ocsp.key", cert=directory / "ocsp.pem")


def ocsp_responder_ensure(ca: IssuingCA) -> bool:
    """Create or renew the delegated OCSP responder of `ca` (True when it wrote a new one).

    See `apps.issuance.ca.ensure_ocsp_responder`: renewed when it ends within
    `OCSP_RESPONDER_RENEW_BEFORE_SECONDS`, or belongs to another CA.
    """
    return ensure_ocsp_responder(
        ocsp_paths(),
        ca,
        validity_seconds=OCSP_RESPONDER_VALIDITY_SECONDS,
        renew_before_seconds=OCSP_RESPONDER_RENEW_BEFORE_SECONDS,
    )


def ocsp_responder_load(ca: IssuingCA, now: dt.datetime) -> OCSPResponder:
    """The delegated OCSP responder of `ca`, usable at `now`; raises `CAError` (`ocsp.*`)."""
    return load_ocsp_responder(ocsp_paths(), ca, now=now)

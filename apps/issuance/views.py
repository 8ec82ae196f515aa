"""Public endpoints of the issuing CA: `/issuance/ca.pem` and `/issuance/crl`."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from apps.issuance import authority, selectors
from apps.issuance.ca import CAError


def _unavailable() -> HttpResponse:
    return HttpResponse("The issuing CA is not set up (run manage.py issuance_ca_init).\n",
                        status=503, content_type="text/plain; charset=utf-8")


@require_safe
def ca_certificate_view(request: HttpRequest) -> HttpResponse:
    """The CA certificate, PEM (`application/x-pem-file`). 503 when the CA is not set up."""
    try:
        ca = authority.ca_load()
    except CAError:
        return _unavailable()
    response = HttpResponse(ca.ca_pem(), content_type="application/x-pem-file")
    response["Content-Disposition"] = 'inline; filename="ca.pem"'
    return response


@require_safe
def crl_view(request: HttpRequest) -> HttpResponse:
    """The CRL (RFC 5280 v2, DER, `application/pkix-crl` per RFC 2585), signed by the CA.

    Built per request from the revoked e-IDs in the database: stateless, so any number of web
    processes publish the same list. thisUpdate = now, nextUpdate = now + 1 hour, cRLNumber = epoch
    seconds of thisUpdate (increasing). 503 when the CA is not set up.
    """
    try:
        ca = authority.ca_load()
    except CAError:
        return _unavailable()
    now = timezone.now()
    crl = ca.build_crl(selectors.revoked_list(), now=now,
                       next_update_seconds=authority.CRL_NEXT_UPDATE_SECONDS,
                       crl_number=authority.crl_number(now))
    response = HttpResponse(crl.public_bytes(serialization.Encoding.DER),
                            content_type="application/pkix-crl")
    response["Cache-Control"] = "no-cache"
    response["Content-Disposition"] = 'inline; filename="portal.crl"'
    return response

"""Public endpoints of the issuing CA: `/issuance/ca.pem`, `/issuance/crl` and `/issuance/ocsp`."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp as x509_ocsp
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, quote_etag
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from apps.issuance import authority, ocsp, revocation, selectors
from apps.issuance.ca import CAError
from apps.issuance.models import CertificateRevocationList


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


def _crl_cache_headers(response: HttpResponse, crl: CertificateRevocationList) -> HttpResponse:
    """ETag (the DER's SHA-256, RFC 9110 8.8.3), Last-Modified (thisUpdate, 8.8.2) and
    Cache-Control: public, max-age (RFC 9111 5.2.2.1) = seconds until the CRL is refreshed by age,
    at most `CRL_MAX_AGE_SECONDS`, never past nextUpdate."""
    now = timezone.now()
    until = min(revocation.crl_refresh_at(crl), crl.next_update) - now
    max_age = max(0, min(authority.CRL_MAX_AGE_SECONDS, int(until.total_seconds())))
    response["ETag"] = quote_etag(crl.sha256)
    response["Last-Modified"] = http_date(crl.this_update.timestamp())
    response["Cache-Control"] = f"public, max-age={max_age}"
    return response


@require_safe
def crl_view(request: HttpRequest) -> HttpResponse:
    """The CRL (RFC 5280 v2, DER, `application/pkix-crl` per RFC 2585), signed by the CA.

    Serves the stored CRL (`apps.issuance.revocation`: made after each revocation and on a
    schedule, and here first whenever the stored one misses a committed revocation or is half-way
    to its nextUpdate); nothing is signed for a request that finds the CRL current. Conditional
    GET (RFC 9110 13): `If-None-Match` with the ETag, or `If-Modified-Since` with thisUpdate,
    answers 304 without the body. 503 when the CA is not set up or not valid now.
    """
    try:
        crl = revocation.crl_refresh(actor=revocation.CRL_PUBLISHER)
    except CAError:
        return _unavailable()
    not_modified = get_conditional_response(
        request, etag=quote_etag(crl.sha256), last_modified=int(crl.this_update.timestamp())
    )
    if not_modified is not None:
        return _crl_cache_headers(not_modified, crl)
    crl = selectors.crl_with_der(crl)
    assert crl.der is not None  # crl_with_der picks a CRL that has its bytes
    response = HttpResponse(bytes(crl.der), content_type="application/pkix-crl")
    response["Content-Disposition"] = 'inline; filename="portal.crl"'
    return _crl_cache_headers(response, crl)


def _ocsp_http(request: HttpRequest, response: x509_ocsp.OCSPResponse) -> HttpResponse:
    """`response` as `200 application/ocsp-response` (RFC 6960 A.1): a successful GET answer may
    be cached until its nextUpdate (RFC 5019 6.2); anything else is `no-store`."""
    answer = HttpResponse(response.public_bytes(serialization.Encoding.DER),
                          content_type="application/ocsp-response")
    successful = response.response_status == x509_ocsp.OCSPResponseStatus.SUCCESSFUL
    if request.method == "GET" and successful and response.next_update_utc is not None:
        seconds = int((response.next_update_utc - timezone.now()).total_seconds())
        answer["Cache-Control"] = f"public, max-age={max(0, seconds)}, no-transform, must-revalidate"
        answer["Last-Modified"] = http_date(response.produced_at_utc.timestamp())
        answer["Expires"] = http_date(response.next_update_utc.timestamp())
    else:
        answer["Cache-Control"] = "no-store"
    return answer


@csrf_exempt
@require_http_methods(["GET", "POST"])
def ocsp_view(request: HttpRequest) -> HttpResponse:
    """The OCSP responder over HTTP (RFC 6960 Appendix A.1), POST form.

    `POST /issuance/ocsp` with an `application/ocsp-request` body (one certificate, at most
    8 KiB: `apps.issuance.ocsp`) answers `200 application/ocsp-response`, `no-store`; the OCSP
    status inside is `successful` (signed: good, revoked or unknown), `malformedRequest` (also for
    another media type, a larger body, or a GET without a request), `unauthorized` (another
    issuer's certificate) or `tryLater` (responder not set up). No CSRF token: a relying party has
    no session, and the request changes nothing.
    """
    if request.method != "POST" or request.content_type != "application/ocsp-request":
        return _ocsp_http(request, ocsp.refusal(x509_ocsp.OCSPResponseStatus.MALFORMED_REQUEST))
    # Read at most one byte past the limit (`request.body` would answer a large body with an
    # error page instead of an OCSP response).
    return _ocsp_http(request, revocation.ocsp_respond(request.read(ocsp.MAX_REQUEST_BYTES + 1)))


@require_safe
def ocsp_get_view(request: HttpRequest, encoded: str) -> HttpResponse:
    """The OCSP responder over HTTP, GET form: `GET /issuance/ocsp/<base64 of the DER request>`
    (RFC 6960 Appendix A.1; the path arrives URL-decoded). Answers as the POST form, but a
    successful answer may be cached until its nextUpdate (`Cache-Control`, `Expires`,
    `Last-Modified`; RFC 5019 6.2). Text that is not padded base64 answers `malformedRequest`.
    """
    try:
        request_der = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return _ocsp_http(request, ocsp.refusal(x509_ocsp.OCSPResponseStatus.MALFORMED_REQUEST))
    return _ocsp_http(request, revocation.ocsp_respond(request_der))

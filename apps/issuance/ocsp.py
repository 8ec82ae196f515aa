"""OCSP responses (RFC 6960) for the portal's issuing CA, signed by its delegated responder.

Pure code like `apps.issuance.ca`: no Django, no database, no global state; `cryptography`'s OCSP
builders only. The caller loads the CA and the responder and says, per certificate serial, what
the portal knows (`SerialStatus`, or None for a serial it never issued).

What a request gets
- `parse_request` refuses with `OCSPRefusal(MALFORMED_REQUEST)` anything that is not one DER
  OCSPRequest (RFC 6960 4.1.1) of at most `MAX_REQUEST_BYTES`: undecodable bytes, trailing data,
  more than one certificate in the request (the portal follows the lightweight profile, RFC 5019
  2.1.1: one certificate per request), a hash algorithm cryptography does not know, a nonce of 0
  or more than 32 octets (RFC 8954 2.1), or an unknown critical extension (RFC 6960 4.4).
- `respond` answers `unauthorized` (RFC 6960 2.3; RFC 5019 2.2.3) when the request names another
  issuer: the responder speaks only for its own CA and signs nothing about others. For the portal's
  own CA it answers one SingleResponse (RFC 6960 4.2.1): `good`, `revoked` with the revocation
  time (no reason code, like the CRL), or `unknown` for a serial the portal never issued (2.2).
  The request's nonce is echoed (RFC 6960 4.4.1, RFC 8954). thisUpdate is `now` (the status is
  read from the database per request), nextUpdate `now` + `validity_seconds`, never past the
  responder certificate's notAfter. The responder is named by key hash (RFC 6960 4.2.2.3, the
  form RFC 5019 2.2.2 prefers) and its certificate is included, so a client can check the
  delegation to the CA (4.2.2.2).

Times are aware datetimes in UTC; durations whole seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from apps.issuance.ca import OCSPResponder

__all__ = [
    "MAX_REQUEST_BYTES",
    "NONCE_MAX_BYTES",
    "OCSPRefusal",
    "SerialStatus",
    "issuer_hashes",
    "parse_request",
    "refusal",
    "respond",
]

#: Largest accepted OCSP request, in bytes (a request for one certificate is about 100 bytes).
MAX_REQUEST_BYTES: int = 8 * 1024
#: Nonce length bounds, in octets (RFC 8954 2.1: 1..32; a request outside is malformed).
NONCE_MIN_BYTES: int = 1
NONCE_MAX_BYTES: int = 32

_UNDERSTOOD_EXTENSIONS = {x509.OCSPNonce.oid}


class OCSPRefusal(Exception):
    """The request gets an unsuccessful OCSPResponse with `status` (RFC 6960 4.2.1)."""

    def __init__(self, status: ocsp.OCSPResponseStatus, reason: str) -> None:
        super().__init__(f"{status.name}: {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class SerialStatus:
    """What the portal knows of a certificate it issued: `revoked_at` (UTC), None when good."""

    revoked_at: dt.datetime | None = None


def parse_request(der: bytes) -> ocsp.OCSPRequest:
    """Decode one DER OCSPRequest and check it (module docstring, "What a request gets").

    Raises OCSPRefusal(MALFORMED_REQUEST) naming what was wrong.
    """
    malformed = ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    if len(der) > MAX_REQUEST_BYTES:
        raise OCSPRefusal(malformed, f"request larger than {MAX_REQUEST_BYTES} bytes")
    try:
        request = ocsp.load_der_ocsp_request(der)
        request.hash_algorithm  # noqa: B018 - parsed lazily: an unknown algorithm raises here
        extensions = request.extensions
    except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm) as exc:
        raise OCSPRefusal(malformed, f"not one DER OCSP request: {exc}") from exc
    for extension in extensions:
        if extension.critical and extension.oid not in _UNDERSTOOD_EXTENSIONS:
            raise OCSPRefusal(malformed, f"unknown critical extension {extension.oid.dotted_string}")
    nonce = _nonce(request)
    if nonce is not None and not NONCE_MIN_BYTES <= len(nonce) <= NONCE_MAX_BYTES:
        raise OCSPRefusal(malformed, f"nonce of {len(nonce)} octets (RFC 8954: 1 to 32)")
    return request


def _nonce(request: ocsp.OCSPRequest) -> bytes | None:
    try:
        return request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


def issuer_hashes(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of `issuer` with `algorithm` (RFC 6960 4.1.1 CertID).

    The name hash covers the DER of the issuer's subject; the key hash covers the value of the
    subjectPublicKey BIT STRING, which for an EC key is the uncompressed point (RFC 5480 2.2).
    """
    name = hashes.Hash(algorithm)
    name.update(issuer.subject.public_bytes())
    key = hashes.Hash(algorithm)
    key.update(
        issuer.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    return name.finalize(), key.finalize()


def respond(
    request: ocsp.OCSPRequest,
    *,
    issuer: x509.Certificate,
    responder: OCSPResponder,
    lookup: Callable[[int], SerialStatus | None],
    now: dt.datetime,
    validity_seconds: int,
) -> ocsp.OCSPResponse:
    """The signed answer to a request `parse_request` accepted (module docstring).

    `lookup(serial)` gives the portal's status of a serial of `issuer`'s certificates, None for a
    serial never issued. Raises OCSPRefusal(UNAUTHORIZED) for a request about another issuer;
    ValueError for a naive `now` or a non-positive `validity_seconds`.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    if validity_seconds <= 0:
        raise ValueError(f"validity_seconds must be positive, got {validity_seconds!r}")
    algorithm = request.hash_algorithm
    if (request.issuer_name_hash, request.issuer_key_hash) != issuer_hashes(issuer, algorithm):
        raise OCSPRefusal(ocsp.OCSPResponseStatus.UNAUTHORIZED, "not a certificate of this CA")
    this_update = now.astimezone(dt.UTC).replace(microsecond=0)
    next_update = min(
        this_update + dt.timedelta(seconds=validity_seconds), responder.cert.not_valid_after_utc
    )
    known = lookup(request.serial_number)
    if known is None:
        status, revoked_at = ocsp.OCSPCertStatus.UNKNOWN, None
    elif known.revoked_at is None:
        status, revoked_at = ocsp.OCSPCertStatus.GOOD, None
    else:
        status = ocsp.OCSPCertStatus.REVOKED
        revoked_at = known.revoked_at.astimezone(dt.UTC).replace(microsecond=0)
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=algorithm,
            cert_status=status,
            this_update=this_update,
            next_update=next_update,
            revocation_time=revoked_at,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, responder.cert)
        .certificates([responder.cert])
    )
    nonce = _nonce(request)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.sign(responder.key, hashes.SHA256())


def refusal(status: ocsp.OCSPResponseStatus) -> ocsp.OCSPResponse:
    """An unsigned, unsuccessful OCSPResponse with `status` (RFC 6960 4.2.1: no responseBytes)."""
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status)

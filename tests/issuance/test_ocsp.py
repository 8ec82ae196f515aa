"""The OCSP responder (RFC 6960) at `/issuance/ocsp`: good, revoked and unknown per serial, signed
by the delegated responder, nonces echoed, malformed requests answered as such (never a 500)."""

from __future__ import annotations

import base64
import datetime as dt
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ObjectIdentifier
from django.test import Client
from django.utils import timezone

from apps.commissions.models import Employee
from apps.identities.models import User
from apps.issuance import authority, services
from apps.issuance import ocsp as responder_module
from apps.issuance.ca import CAPaths, IssuingCA, ensure_ca, ensure_ocsp_responder, load_ca
from tests.issuance.support import device_csr, issue, redeem_qr

pytestmark = pytest.mark.django_db

Status = ocsp.OCSPResponseStatus


@pytest.fixture
def nina(nurse: tuple[User, Employee]) -> User:
    return nurse[0]


def _certificate(eid: Any) -> x509.Certificate:
    return x509.load_pem_x509_certificate(eid.certificate_pem.encode())


def _request(cert: x509.Certificate, issuer: x509.Certificate, *, nonce: bytes | None = None,
             algorithm: hashes.HashAlgorithm | None = None) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm or hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _post(body: bytes, content_type: str = "application/ocsp-request") -> ocsp.OCSPResponse:
    response = Client().post("/issuance/ocsp", data=body, content_type=content_type)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ocsp-response"
    assert response["Cache-Control"] == "no-store"
    return ocsp.load_der_ocsp_response(response.content)


def _verified(response: ocsp.OCSPResponse, ca: IssuingCA) -> ocsp.OCSPResponse:
    """Check what a relying party checks (RFC 6960 3.2, 4.2.2.2): the responder certificate in the
    response is issued by the CA for OCSP signing, names the responder and signed the response."""
    assert response.response_status == Status.SUCCESSFUL
    (responder,) = response.certificates
    responder.verify_directly_issued_by(ca.cert)
    eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING in eku
    assert response.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(
        responder.public_key()).digest
    key = responder.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and response.signature_hash_algorithm
    key.verify(response.signature, response.tbs_response_bytes,
               ec.ECDSA(response.signature_hash_algorithm))
    return response


def _sequence(content: bytes) -> bytes:
    """DER SEQUENCE around `content` (definite length)."""
    size = len(content)
    if size < 128:
        return b"\x30" + bytes([size]) + content
    octets = (size.bit_length() + 7) // 8
    return b"\x30" + bytes([0x80 | octets]) + size.to_bytes(octets, "big") + content


def _unwrap(der: bytes) -> bytes:
    """The content of a DER SEQUENCE."""
    size = der[1]
    if size < 128:
        return der[2:2 + size]
    octets = size & 0x7F
    return der[2 + octets:2 + octets + int.from_bytes(der[2:2 + octets], "big")]


# --- good / revoked / unknown --------------------------------------------------------------------


def test_good_then_revoked_with_its_time(nina: User, issuing_ca: IssuingCA) -> None:
    eid = redeem_qr(issue(nina.person)).eid
    cert = _certificate(eid)
    good = _verified(_post(_request(cert, issuing_ca.cert)), issuing_ca)
    assert good.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert good.serial_number == cert.serial_number
    assert good.next_update_utc is not None and good.this_update_utc < good.next_update_utc
    assert (good.next_update_utc - good.this_update_utc).total_seconds() == (
        authority.OCSP_RESPONSE_VALIDITY_SECONDS)

    services.eid_revoke(actor=nina, eid=eid, reason="Phone lost")
    eid.refresh_from_db()
    revoked = _verified(_post(_request(cert, issuing_ca.cert)), issuing_ca)
    assert revoked.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert eid.revoked_at is not None
    assert revoked.revocation_time_utc == eid.revoked_at.replace(microsecond=0)
    assert revoked.revocation_reason is None


def test_unknown_for_a_serial_the_portal_never_issued(nina: User, issuing_ca: IssuingCA) -> None:
    """Signed by the CA's key, but not by the portal's issuing process: no e-ID has the serial."""
    stray = issuing_ca.issue(device_csr()[1].encode(), subject_serial_number="191212121212",
                             common_name="Nobody", validity_seconds=3600,
                             crl_url="http://x.invalid/crl", ocsp_url="http://x.invalid/ocsp",
                             now=timezone.now())
    response = _verified(_post(_request(stray, issuing_ca.cert)), issuing_ca)
    assert response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN


def test_another_issuer_is_unauthorized(nina: User, issuing_ca: IssuingCA, tmp_path: Path,
                                        settings: Any) -> None:
    """The responder speaks only for its own CA (RFC 6960 2.3, RFC 5019 2.2.3), even for an
    impostor CA with the same name."""
    paths = CAPaths(key=tmp_path / "other.key", cert=tmp_path / "other.pem")
    ensure_ca(paths, common_name=settings.ISSUANCE_CA_NAME,
              organisation=settings.ISSUANCE_CA_ORGANISATION)
    other = load_ca(paths)
    assert other.cert.subject == issuing_ca.cert.subject
    eid = redeem_qr(issue(nina.person)).eid
    foreign = _post(_request(_certificate(eid), other.cert))
    assert foreign.response_status == Status.UNAUTHORIZED


@pytest.mark.parametrize("algorithm", [hashes.SHA1(), hashes.SHA256(), hashes.SHA512()])
def test_cert_id_hash_algorithms(nina: User, issuing_ca: IssuingCA,
                                 algorithm: hashes.HashAlgorithm) -> None:
    eid = redeem_qr(issue(nina.person)).eid
    request = _request(_certificate(eid), issuing_ca.cert, algorithm=algorithm)
    response = _verified(_post(request), issuing_ca)
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert isinstance(response.hash_algorithm, type(algorithm))


def test_new_certificates_name_the_responder_and_keep_the_crl(nina: User,
                                                             issuing_ca: IssuingCA) -> None:
    cert = _certificate(redeem_qr(issue(nina.person)).eid)
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [(d.access_method, d.access_location.value) for d in aia] == [
        (AuthorityInformationAccessOID.OCSP, authority.ocsp_url())
    ]
    assert authority.ocsp_url().endswith("/issuance/ocsp")
    dps = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for n in dps[0].full_name or []] == [authority.crl_url()]


# --- nonce (RFC 8954) ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 16, 32])
def test_nonce_is_echoed(nina: User, issuing_ca: IssuingCA, size: int) -> None:
    eid = redeem_qr(issue(nina.person)).eid
    nonce = bytes(range(size))
    response = _verified(_post(_request(_certificate(eid), issuing_ca.cert, nonce=nonce)),
                         issuing_ca)
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce


def test_no_nonce_without_one_in_the_request(nina: User, issuing_ca: IssuingCA) -> None:
    eid = redeem_qr(issue(nina.person)).eid
    response = _verified(_post(_request(_certificate(eid), issuing_ca.cert)), issuing_ca)
    with pytest.raises(x509.ExtensionNotFound):
        response.extensions.get_extension_for_class(x509.OCSPNonce)


@pytest.mark.parametrize("size", [0, 33, 128])
def test_nonce_outside_1_to_32_octets_is_malformed(nina: User, issuing_ca: IssuingCA,
                                                   size: int) -> None:
    eid = redeem_qr(issue(nina.person)).eid
    request = _request(_certificate(eid), issuing_ca.cert, nonce=b"n" * size)
    assert _post(request).response_status == Status.MALFORMED_REQUEST


# --- malformed requests: an OCSP answer, never a server error ------------------------------------


@pytest.mark.parametrize("body", [b"", b"hello", b"\x30\x00", b"\x30\x82\xff\xff" + b"\x00" * 10,
                                  b"\x00" * (9 * 1024)])
def test_malformed_bodies(issuing_ca: IssuingCA, body: bytes, db: Any) -> None:
    response = _post(body)
    assert response.response_status == Status.MALFORMED_REQUEST
    with pytest.raises(ValueError):
        response.certificate_status  # noqa: B018 - an unsuccessful response has no status


def test_truncated_trailing_and_foreign_media_type(nina: User, issuing_ca: IssuingCA) -> None:
    eid = redeem_qr(issue(nina.person)).eid
    good = _request(_certificate(eid), issuing_ca.cert)
    assert _post(good[:-1]).response_status == Status.MALFORMED_REQUEST
    assert _post(good + b"\x00").response_status == Status.MALFORMED_REQUEST
    assert _post(good, "application/json").response_status == Status.MALFORMED_REQUEST
    form = Client().post("/issuance/ocsp", {"request": "x"})
    assert ocsp.load_der_ocsp_response(form.content).response_status == Status.MALFORMED_REQUEST


def test_two_certificates_in_one_request_are_malformed(nina: User, issuing_ca: IssuingCA) -> None:
    """The lightweight profile (RFC 5019 2.1.1): one certificate per request."""
    eid = redeem_qr(issue(nina.person)).eid
    one = _request(_certificate(eid), issuing_ca.cert)
    request_list = _unwrap(_unwrap(_unwrap(one)))  # OCSPRequest > TBSRequest > requestList
    two = _sequence(_sequence(_sequence(request_list + request_list)))
    assert _post(two).response_status == Status.MALFORMED_REQUEST


def test_unknown_critical_extension_is_malformed(nina: User, issuing_ca: IssuingCA) -> None:
    eid = redeem_qr(issue(nina.person)).eid
    unknown = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    builder = ocsp.OCSPRequestBuilder().add_certificate(_certificate(eid), issuing_ca.cert,
                                                        hashes.SHA1())
    critical = builder.add_extension(unknown, critical=True).build()
    assert _post(critical.public_bytes(serialization.Encoding.DER)).response_status == (
        Status.MALFORMED_REQUEST)
    ignored = builder.add_extension(unknown, critical=False).build()
    assert _post(ignored.public_bytes(serialization.Encoding.DER)).response_status == (
        Status.SUCCESSFUL)


def test_other_methods(issuing_ca: IssuingCA, db: Any) -> None:
    client = Client()
    bare = client.get("/issuance/ocsp")
    assert ocsp.load_der_ocsp_response(bare.content).response_status == Status.MALFORMED_REQUEST
    assert client.put("/issuance/ocsp", data=b"x").status_code == 405


def test_try_later_without_a_responder(nina: User, issuing_ca: IssuingCA) -> None:
    eid = redeem_qr(issue(nina.person)).eid
    authority.ocsp_paths().cert.unlink()
    assert _post(_request(_certificate(eid), issuing_ca.cert)).response_status == Status.TRY_LATER


# --- GET form (RFC 6960 Appendix A.1) ------------------------------------------------------------


@pytest.mark.parametrize("quote", [True, False])
def test_get_form(nina: User, issuing_ca: IssuingCA, quote: bool) -> None:
    eid = redeem_qr(issue(nina.person)).eid
    services.eid_revoke(actor=nina, eid=eid, reason="Phone lost")
    encoded = ""
    nonce = 0
    while "/" not in encoded or "+" not in encoded:  # make sure both need care in a URL path
        nonce += 1
        der = _request(_certificate(eid), issuing_ca.cert, nonce=nonce.to_bytes(16, "big"))
        encoded = base64.b64encode(der).decode()
    path = urllib.parse.quote(encoded, safe="") if quote else encoded
    answer = Client().get("/issuance/ocsp/" + path)
    assert answer.status_code == 200 and answer["Content-Type"] == "application/ocsp-response"
    response = _verified(ocsp.load_der_ocsp_response(answer.content), issuing_ca)
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert "public" in answer["Cache-Control"] and "max-age=" in answer["Cache-Control"]
    assert answer["Expires"] and answer["Last-Modified"]


@pytest.mark.parametrize("path", ["", "not*base64", "QUJD", "QUJDRA", "%00%01", "a//b=="])
def test_get_form_malformed(issuing_ca: IssuingCA, path: str, db: Any) -> None:
    answer = Client().get("/issuance/ocsp/" + path)
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    assert ocsp.load_der_ocsp_response(answer.content).response_status == (
        Status.MALFORMED_REQUEST)


# --- the pure responder --------------------------------------------------------------------------


def test_next_update_never_past_the_responder_certificate(nina: User, issuing_ca: IssuingCA,
                                                          settings: Any) -> None:
    now = timezone.now()
    paths = authority.ocsp_paths()
    for file in (paths.key, paths.cert):
        file.unlink()
    ensure_ocsp_responder(paths, issuing_ca, validity_seconds=120, renew_before_seconds=1,
                          now=now)
    responder = authority.ocsp_responder_load(issuing_ca, now)
    eid = redeem_qr(issue(nina.person)).eid
    request = responder_module.parse_request(_request(_certificate(eid), issuing_ca.cert))
    response = responder_module.respond(request, issuer=issuing_ca.cert, responder=responder,
                                        lookup=lambda serial: None, now=now,
                                        validity_seconds=3600)
    assert response.next_update_utc == responder.cert.not_valid_after_utc
    assert response.this_update_utc == now.replace(microsecond=0)
    assert response.next_update_utc < now + dt.timedelta(seconds=3600)

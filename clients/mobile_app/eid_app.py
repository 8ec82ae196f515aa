#!/usr/bin/env python3
"""eid_app: the reference client of the portal's mobile e-ID activation API.

It plays the phone in the SITHS-style activation flow: the person has logged in to the portal with
a strong e-ID, asked for a new mobile e-ID and got a single-use activation code (also shown as a QR
code, valid at most 15 minutes). This program then

1. generates an EC P-256 key pair "on the device" (the private key never leaves it),
2. builds a PKCS#10 CSR (RFC 2986) signed with that key; its subject is CN=<device name>, which
   the portal ignores: the certificate subject comes from the person bound to the code,
3. POSTs `{"csr", "qr_payload" | ("person_number", "code"), "device_name"}` as JSON to
   `{portal}/api/v1/eid/activations` and expects `201` with
   `{"eid_id", "serial" (hex), "certificate" (PEM), "chain" (PEM leaf + CA), "not_after" (ISO 8601
   UTC)}`; a refusal is `application/problem+json` (RFC 9457: type, title, status, detail, code),
   whose `detail` is printed: the app sends the user's language (`Accept-Language`, RFC 9110
   12.5.4, from the POSIX locale variables LC_ALL, LC_MESSAGES or LANG) and the portal answers
   in it, so the person reads the refusal in their language,
4. checks the answer (the certificate carries our public key and is signed by the CA in the chain)
   and saves a wallet: JSON `{"portal", "private_key" (PKCS#8 PEM), "certificate", "chain",
   "eid_id"}`, file mode 0600, never overwriting an existing wallet without `--force`.

`approve` answers a login request the portal shows in a browser ("log in with your mobile e-ID",
out of band): the browser shows a QR code whose text is `EIDAUTH1.<reference>` (the app link
`eidapp://auth?ref=EIDAUTH1.<reference>` or any URL ending in that text works too) and a
two-digit number. The app

1. GETs `{portal}/api/v1/eid/auth-requests/<reference>` from the wallet's portal and expects `200`
   `{"reference", "service", "origin", "nonce" (32 hex), "created_at", "expires_at"}` (RFC 3339
   UTC),
2. refuses, saying why, when `origin` is not the wallet's portal (the request was not made at the
   portal this e-ID belongs to),
3. shows the service, the portal and the time of the request (local time) and asks the person to
   type the number the browser shows (`--number NN` gives it without asking),
4. signs the challenge `EIDAUTH1|<reference>|<origin>|<number>|<nonce>` (UTF-8) with the wallet's
   key, ECDSA P-256 with SHA-256 (FIPS 186-5; DER signature, RFC 3279 2.2.3) and POSTs
   `{"serial" (hex), "number", "signature" (base64, RFC 4648 section 4)}` as JSON to
   `.../<reference>/approval`; `200 {"status": "approved"}` prints `approved`, a refusal prints the
   problem's `detail` (wrong number, not signed by this e-ID, e-ID revoked, request expired).

With `--deny` it says no instead, without asking for the number (a person refusing a login they
did not start has no browser showing one): it signs the denial challenge
`EIDDENY1|<reference>|<origin>|<nonce>` (UTF-8) with the wallet's key in the same way, POSTs
`{"serial", "signature"}` to `.../<reference>/denial` and prints `denied`. The portal takes only
signed answers, so whoever merely sees the QR code cannot deny or cancel a login.

`verify` downloads `{portal}/issuance/ca.pem` and the CRL `{portal}/issuance/crl` (DER) and checks
the wallet's certificate (RFC 5280: signature by the CA, validity period, a CRL signed by the same
CA and not past its nextUpdate, serial not listed). When the CRL says valid it also asks the
portal's OCSP responder: it POSTs an `application/ocsp-request` (RFC 6960, SHA-256 CertID, a
random 32-octet nonce per RFC 8954) to `{portal}/issuance/ocsp` and checks the answer (RFC 6960
3.2): successful, signed by a responder certificate the CA issued for OCSP signing (a delegated
responder, 4.2.2.2) and valid now, about this certificate, echoing the nonce, fresh (thisUpdate
not in the future, nextUpdate not past), and `good`. Both must say valid; `revoked` from either is
revoked; an unknown certificate or an answer that fails a check is invalid. `show` prints the
certificate's subject, serial and validity.

Usage
    eid_app.py activate --portal URL --wallet PATH
                        (--qr-payload TEXT | --person-number NNNNNNNNNNNN --code XXXX-XXXX)
                        [--device-name NAME] [--force]

Without `--device-name` the app sends no name and the portal shows "Mobile e-ID" in the reader's
language.
    eid_app.py verify --wallet PATH [--portal URL]
    eid_app.py show --wallet PATH
    eid_app.py approve --wallet PATH --request (TEXT | -) [--number NN | --deny]

`--request -` reads the request text from the first line of standard input (the number, when
asked for, from the next line).

Exit status: 0 success (`verify`: valid; `approve`: approved or denied); 1 error (refused by the
portal or by the app, network, bad wallet, an answer that is not a CRL or an OCSP response, bad
arguments: 2 from argparse); 2 `verify` found the certificate revoked or invalid, `approve` got a
request text or a number it cannot read.

Standard library and `cryptography` only; times are UTC.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import ipaddress
import json
import os
import re
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "AppError",
    "AuthRequest",
    "PortalProblem",
    "UsageError",
    "Verdict",
    "Wallet",
    "accept_language",
    "activation_body",
    "auth_challenge",
    "build_csr",
    "check_ocsp",
    "check_origin",
    "deny_challenge",
    "generate_device_key",
    "main",
    "normalise_number",
    "normalise_person_number",
    "ocsp_request",
    "parse_auth_request",
    "parse_request_text",
    "problem_from",
    "read_wallet",
    "sign_challenge",
    "verify_certificate",
    "verify_wallet",
    "wallet_from_response",
    "write_wallet",
]

ACTIVATIONS_PATH = "/api/v1/eid/activations"
CA_PATH = "/issuance/ca.pem"
CRL_PATH = "/issuance/crl"
OCSP_PATH = "/issuance/ocsp"
AUTH_REQUESTS_PATH = "/api/v1/eid/auth-requests/"
#: Prefix of the QR text and of the challenge the app signs to approve (version 1 of the format).
AUTH_PREFIX = "EIDAUTH1"
#: Prefix of the challenge the app signs to deny (version 1).
DENY_PREFIX = "EIDDENY1"
#: Nonce length in octets (RFC 8954 2.1: clients should use 32).
OCSP_NONCE_BYTES = 32
#: How far an OCSP answer's thisUpdate may lie ahead of our clock (clock skew).
OCSP_CLOCK_SKEW = dt.timedelta(minutes=5)
USER_AGENT = "eid-app/1.0 (portal reference client)"
#: Seconds to wait for the portal.
TIMEOUT_SECONDS = 15.0
#: Largest response body read from the portal, in bytes.
MAX_RESPONSE_BYTES = 1024 * 1024
#: commonName upper bound (RFC 5280 Appendix A, ub-common-name).
MAX_DEVICE_NAME = 64
#: The CSR's subject when the user named no device (the portal ignores the subject).
DEFAULT_CSR_NAME = "eid_app"
WALLET_MODE = 0o600

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_NOT_VALID = 2
EXIT_USAGE = 2

_PERSON_NUMBER = re.compile(r"(\d{8})-?(\d{4})")
#: The request text at the end of a QR text, app link or URL: 32 url-safe characters (RFC 4648 5).
_REQUEST_TEXT = re.compile(r"(?:^|[^A-Za-z0-9_.-])EIDAUTH1\.([A-Za-z0-9_-]{32})")
_NUMBER = re.compile(r"[0-9]{2}")
_NONCE = re.compile(r"[0-9a-f]{32}")
_VERIFY_KEY_TYPES = (
    ec.EllipticCurvePublicKey,
    rsa.RSAPublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
)


class AppError(Exception):
    """A failure to report to the user as one line; the program exits with `EXIT_ERROR`."""


class UsageError(AppError):
    """Input the app cannot read (request text, number); the program exits with `EXIT_USAGE`."""


class PortalProblem(AppError):
    """The portal refused a request with an RFC 9457 problem (or another HTTP error)."""

    def __init__(
        self,
        *,
        status: int,
        title: str,
        detail: str = "",
        code: str = "",
        type_: str = "about:blank",
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.code = code
        self.type = type_
        # The detail is the portal's message in the user's language; the title is only a summary
        # of the problem type (often an English HTTP reason phrase), so it is shown only alone.
        super().__init__(detail or title)


@dataclass(frozen=True)
class Wallet:
    """What the phone keeps: PEM texts and the portal it belongs to (the JSON wallet file)."""

    portal: str
    private_key: str
    certificate: str
    chain: str
    eid_id: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Wallet:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AppError(f"the wallet is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise AppError("the wallet is not a JSON object")
        values: dict[str, str] = {}
        for field in ("portal", "private_key", "certificate", "chain", "eid_id"):
            value = data.get(field)
            if not isinstance(value, str) or not value:
                raise AppError(f"the wallet lacks {field!r}")
            values[field] = value
        return cls(**values)

    def key(self) -> ec.EllipticCurvePrivateKey:
        try:
            key = serialization.load_pem_private_key(self.private_key.encode(), password=None)
        except ValueError as exc:
            raise AppError(f"the wallet's private key cannot be read: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise AppError("the wallet's private key is not an EC key")
        return key

    def cert(self) -> x509.Certificate:
        return _load_cert(self.certificate.encode(), "the wallet's certificate")


@dataclass(frozen=True)
class Verdict:
    """The outcome of `verify_certificate`: `status` and, unless valid, a `reason`."""

    status: Literal["valid", "revoked", "invalid"]
    reason: str = ""

    def line(self) -> str:
        return f"{self.status}: {self.reason}" if self.reason else self.status


# --- device key, CSR, request and response -------------------------------------------------------


def generate_device_key() -> ec.EllipticCurvePrivateKey:
    """A new EC P-256 (secp256r1) private key, as the phone's secure element would make."""
    return ec.generate_private_key(ec.SECP256R1())


def build_csr(key: ec.EllipticCurvePrivateKey, device_name: str) -> str:
    """A PEM CSR (PKCS#10) for `key`, subject CN=`device_name`, signed ECDSA-SHA256.

    Raises ValueError when `device_name` is empty or longer than 64 characters. (The portal
    ignores the subject; `DEFAULT_CSR_NAME` serves when the user named no device.)
    """
    name = device_name.strip()
    if not name or len(name) > MAX_DEVICE_NAME:
        raise ValueError(f"the device name must be 1-{MAX_DEVICE_NAME} characters")
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def normalise_person_number(value: str) -> str:
    """`YYYYMMDDNNNC` from `YYYYMMDD-NNNC` or `YYYYMMDDNNNC`; ValueError otherwise.

    Only the shape is checked here; the portal validates the number itself.
    """
    match = _PERSON_NUMBER.fullmatch(value.strip())
    if match is None:
        raise ValueError("the person number must have 12 digits (YYYYMMDDNNNC)")
    return match.group(1) + match.group(2)


def activation_body(
    csr_pem: str,
    *,
    device_name: str | None = None,
    qr_payload: str | None = None,
    person_number: str | None = None,
    code: str | None = None,
) -> dict[str, str]:
    """The JSON body of `POST /api/v1/eid/activations`; `device_name` only when one is given.

    Either `qr_payload` alone, or `person_number` and `code` together; ValueError otherwise.
    """
    body = {"csr": csr_pem}
    if device_name and device_name.strip():
        body["device_name"] = device_name.strip()
    if qr_payload is not None:
        if person_number is not None or code is not None:
            raise ValueError("give either the QR payload or the person number and code")
        if not qr_payload.strip():
            raise ValueError("the QR payload is empty")
        body["qr_payload"] = qr_payload.strip()
    else:
        if person_number is None or code is None or not code.strip():
            raise ValueError("give the QR payload, or both the person number and the code")
        body["person_number"] = normalise_person_number(person_number)
        body["code"] = code.strip().upper()
    return body


def wallet_from_response(portal: str, key: ec.EllipticCurvePrivateKey, response: object) -> Wallet:
    """Check the portal's 201 answer and build the wallet from it.

    Checks: the required string fields are present, the certificate holds our public key, the
    chain starts with the certificate and the certificate is signed by the chain's CA, and the
    `serial` field matches. Raises AppError naming the first failed check.
    """
    if not isinstance(response, dict):
        raise AppError("the portal's answer is not a JSON object")
    fields: dict[str, str] = {}
    for name in ("eid_id", "serial", "certificate", "chain"):
        value = response.get(name)
        if not isinstance(value, str) or not value:
            raise AppError(f"the portal's answer lacks {name!r}")
        fields[name] = value
    cert = _load_cert(fields["certificate"].encode(), "the issued certificate")
    if cert.public_key() != key.public_key():
        raise AppError("the issued certificate is not for this device's key")
    try:
        chain = x509.load_pem_x509_certificates(fields["chain"].encode())
    except ValueError as exc:
        raise AppError(f"the chain cannot be read: {exc}") from exc
    if len(chain) < 2 or chain[0] != cert:
        raise AppError("the chain must be the issued certificate followed by the CA")
    try:
        cert.verify_directly_issued_by(chain[1])
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise AppError("the issued certificate is not signed by the CA in the chain") from exc
    if fields["serial"].lower().lstrip("0") != format(cert.serial_number, "x"):
        raise AppError("the serial in the answer does not match the certificate")
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return Wallet(
        portal=portal,
        private_key=private_pem,
        certificate=fields["certificate"],
        chain=fields["chain"],
        eid_id=fields["eid_id"],
    )


# --- wallet file ---------------------------------------------------------------------------------


def write_wallet(path: Path, wallet: Wallet, *, force: bool = False) -> None:
    """Write `wallet` to `path` with mode 0600.

    Without `force` an existing file is never touched (AppError); with `force` the file is
    replaced atomically (temporary file + rename), so a failed write keeps the old wallet.
    """
    data = wallet.to_json().encode("utf-8")
    if not force:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, WALLET_MODE)
        except FileExistsError as exc:
            raise AppError(f"{path} exists; use --force to replace it") from exc
        _write_fd(fd, data, path)
        return
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, WALLET_MODE)
    _write_fd(fd, data, tmp)
    try:
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _write_fd(fd: int, data: bytes, path: Path) -> None:
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), WALLET_MODE)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def read_wallet(path: Path) -> Wallet:
    """Read a wallet file; AppError when it is missing or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AppError(f"cannot read the wallet {path}: {exc.strerror or exc}") from exc
    return Wallet.from_json(text)


def _check_wallet_path(path: Path, *, force: bool) -> None:
    """Refuse before contacting the portal, so a single-use code is not spent in vain."""
    if path.exists() and not force:
        raise AppError(f"{path} exists; use --force to replace it")
    if path.is_dir():
        raise AppError(f"{path} is a directory")
    if not path.parent.is_dir():
        raise AppError(f"the directory {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise AppError(f"the directory {path.parent} is not writable")


# --- verification --------------------------------------------------------------------------------


def _load_cert(data: bytes, what: str) -> x509.Certificate:
    try:
        if data.lstrip().startswith(b"-----"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise AppError(f"{what} cannot be read: {exc}") from exc


def _load_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        if data.lstrip().startswith(b"-----"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise AppError(f"the CRL cannot be read: {exc}") from exc


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def verify_certificate(cert_pem: bytes, ca_cert: bytes, crl: bytes, *, now: dt.datetime) -> Verdict:
    """Check `cert_pem` against the CA certificate `ca_cert` and the CRL `crl` at `now` (UTC).

    `ca_cert` and `crl` are PEM or DER, as downloaded. RFC 5280: the CA is a CA (4.2.1.9) and
    within its validity, the certificate is signed by it (6.1.3 (a)(1)) and within its validity
    (6.1.3 (a)(2)), the CRL is issued and signed by the CA and not past nextUpdate (6.3.3), the
    serial is not listed (6.3.3 (k)). Raises AppError when an input cannot be parsed.
    """
    cert = _load_cert(cert_pem, "the certificate")
    ca = _load_cert(ca_cert, "the CA certificate")
    revocations = _load_crl(crl)
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        return Verdict("invalid", "the portal's CA certificate is not a CA")
    if not ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
        return Verdict("invalid", "the portal's CA certificate is not valid now")
    ca_key = ca.public_key()
    if not isinstance(ca_key, _VERIFY_KEY_TYPES):
        return Verdict("invalid", "the CA key type is not supported")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return Verdict("invalid", "the certificate is not issued by the portal's CA")
    if now < cert.not_valid_before_utc:
        return Verdict("invalid", f"not valid before {_iso(cert.not_valid_before_utc)}")
    if now > cert.not_valid_after_utc:
        return Verdict("invalid", f"expired {_iso(cert.not_valid_after_utc)}")
    if revocations.issuer != ca.subject or not revocations.is_signature_valid(ca_key):
        return Verdict("invalid", "the CRL is not signed by the portal's CA")
    next_update = revocations.next_update_utc
    if next_update is None or now > next_update:
        return Verdict("invalid", "the CRL is out of date; cannot tell if the e-ID is revoked")
    entry = revocations.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None:
        return Verdict("revoked", f"since {_iso(entry.revocation_date_utc)}")
    return Verdict("valid")


def ocsp_request(cert: x509.Certificate, ca: x509.Certificate) -> tuple[bytes, bytes]:
    """A DER OCSP request (RFC 6960 4.1) about `cert` issued by `ca`, and its nonce.

    The CertID uses SHA-256; the nonce is 32 random octets (RFC 8954), so an answer recorded
    earlier cannot be replayed.
    """
    nonce = secrets.token_bytes(OCSP_NONCE_BYTES)
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, ca, hashes.SHA256())
        .add_extension(x509.OCSPNonce(nonce), critical=False)
        .build()
    )
    return request.public_bytes(serialization.Encoding.DER), nonce


def _ocsp_signer(response: ocsp.OCSPResponse, ca: x509.Certificate,
                 now: dt.datetime) -> x509.Certificate | str:
    """The delegated responder certificate that signed `response`, or why there is none."""
    for candidate in response.certificates:
        key_hash = x509.SubjectKeyIdentifier.from_public_key(candidate.public_key()).digest
        if response.responder_key_hash not in (None, key_hash):
            continue
        if response.responder_name not in (None, candidate.subject):
            continue
        try:
            candidate.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            return "the OCSP responder is not delegated by the portal's CA"
        try:
            usage = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            usage = None
        if usage is None or ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
            return "the OCSP answer is signed by a certificate that may not sign OCSP answers"
        if not candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
            return "the OCSP responder's certificate is not valid now"
        key = candidate.public_key()
        algorithm = response.signature_hash_algorithm
        if not isinstance(key, ec.EllipticCurvePublicKey) or algorithm is None:
            return "the OCSP responder's key type is not supported"
        try:
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
        except InvalidSignature:
            return "the OCSP answer's signature does not verify"
        return candidate
    return "the OCSP answer does not include its responder's certificate"


def check_ocsp(
    answer: bytes, *, cert: x509.Certificate, ca: x509.Certificate, nonce: bytes, now: dt.datetime
) -> Verdict:
    """Check the DER OCSP response `answer` to our request about `cert` (RFC 6960 3.2).

    Valid only when: the status is successful; the responder is delegated by `ca` (its
    certificate, included in the answer, is issued by `ca` with extendedKeyUsage OCSPSigning and
    valid at `now`) and signed the answer; the answer is about `cert` (serial and issuer hashes);
    it echoes `nonce`; thisUpdate is not after `now` (+5 minutes of clock skew) and nextUpdate not
    before it; and the certificate is `good`. `revoked` gives a revoked verdict with the time;
    anything else is invalid with the reason. Raises AppError when `answer` is not an OCSP
    response at all.
    """
    try:
        response = ocsp.load_der_ocsp_response(answer)
    except ValueError as exc:
        raise AppError(f"the OCSP answer cannot be read: {exc}") from exc
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return Verdict("invalid", f"the OCSP responder answered {response.response_status.name}")
    signer = _ocsp_signer(response, ca, now)
    if isinstance(signer, str):
        return Verdict("invalid", signer)
    expected = ocsp.OCSPRequestBuilder().add_certificate(cert, ca, response.hash_algorithm).build()
    if (response.serial_number, response.issuer_name_hash, response.issuer_key_hash) != (
        expected.serial_number, expected.issuer_name_hash, expected.issuer_key_hash
    ):
        return Verdict("invalid", "the OCSP answer is about another certificate")
    try:
        echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        echoed = None
    if echoed != nonce:
        return Verdict("invalid", "the OCSP answer does not echo our nonce (a replay?)")
    next_update = response.next_update_utc
    if response.this_update_utc > now + OCSP_CLOCK_SKEW or (
        next_update is not None and now > next_update
    ):
        return Verdict("invalid", "the OCSP answer is out of date")
    if response.certificate_status == ocsp.OCSPCertStatus.REVOKED:
        revoked_at = response.revocation_time_utc
        return Verdict("revoked", f"since {_iso(revoked_at) if revoked_at else '?'} (OCSP)")
    if response.certificate_status != ocsp.OCSPCertStatus.GOOD:
        return Verdict("invalid", "the OCSP responder does not know the certificate")
    return Verdict("valid")


def verify_wallet(wallet: Wallet, ca_cert: bytes, crl: bytes, *, now: dt.datetime) -> Verdict:
    """`verify_certificate` for the wallet's certificate, after checking the wallet itself.

    The private key must belong to the certificate, and the downloaded CA must be the CA that
    came in the wallet's chain at activation (a portal that now answers with another CA is not
    trusted).
    """
    cert = wallet.cert()
    if wallet.key().public_key() != cert.public_key():
        return Verdict("invalid", "the wallet's private key does not match its certificate")
    try:
        chain = x509.load_pem_x509_certificates(wallet.chain.encode())
    except ValueError as exc:
        raise AppError(f"the wallet's chain cannot be read: {exc}") from exc
    if len(chain) >= 2 and chain[-1] != _load_cert(ca_cert, "the CA certificate"):
        return Verdict("invalid", "the portal's CA differs from the CA in the wallet")
    return verify_certificate(wallet.certificate.encode(), ca_cert, crl, now=now)


# --- login requests (out of band) ----------------------------------------------------------------


@dataclass(frozen=True)
class AuthRequest:
    """The details of a login request, as `GET {portal}/api/v1/eid/auth-requests/<ref>` gives them.

    `created_at` and `expires_at` are aware datetimes (UTC from the portal).
    """

    reference: str
    service: str
    origin: str
    nonce: str
    created_at: dt.datetime
    expires_at: dt.datetime


def parse_request_text(text: str) -> str:
    """The reference named by a scanned or pasted request text.

    Accepts `EIDAUTH1.<reference>`, or any text ending in it: the app link
    `eidapp://auth?ref=EIDAUTH1.<reference>` or a URL (percent-encoding is undone first).
    Surrounding white space is ignored. Raises UsageError for anything else.
    """
    value = unquote(text.strip())
    match = _REQUEST_TEXT.search(value)
    if match is None or match.end() != len(value):
        raise UsageError(
            f"not a login request: expected {AUTH_PREFIX}.<reference> (the text of the QR code)"
        )
    return match.group(1)


def normalise_number(value: str) -> str:
    """The two digits the browser shows, e.g. `07`; spaces ignored. UsageError otherwise."""
    number = "".join(value.split())
    if not _NUMBER.fullmatch(number):
        raise UsageError("the number must be the two digits your browser shows, e.g. 07")
    return number


def _rfc3339(value: object, name: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
    raise AppError(f"the portal's answer has no valid {name!r} (an RFC 3339 time)")


def parse_auth_request(reference: str, response: object) -> AuthRequest:
    """Check the portal's 200 answer about `reference` and return its details.

    Required: string `reference` (equal to ours), `service`, `origin`, `nonce` (32 lowercase hex),
    `created_at` and `expires_at` (RFC 3339 with an offset). Raises AppError naming the first
    failed check.
    """
    if not isinstance(response, dict):
        raise AppError("the portal's answer is not a JSON object")
    fields: dict[str, str] = {}
    for name in ("reference", "service", "origin", "nonce"):
        value = response.get(name)
        if not isinstance(value, str) or not value:
            raise AppError(f"the portal's answer lacks {name!r}")
        fields[name] = value
    if fields["reference"] != reference:
        raise AppError("the portal answered about another login request")
    if not _NONCE.fullmatch(fields["nonce"]):
        raise AppError("the portal's answer has no valid 'nonce' (32 hex characters)")
    if "|" in fields["origin"]:
        raise AppError("the portal's answer has an unusable 'origin'")
    return AuthRequest(
        **fields,
        created_at=_rfc3339(response.get("created_at"), "created_at"),
        expires_at=_rfc3339(response.get("expires_at"), "expires_at"),
    )


def _origin_key(url: str) -> tuple[str, str, int | None, str] | None:
    """Scheme, host, port (the default made explicit) and path of an http(s) URL, for comparing."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    default = 443 if scheme == "https" else 80
    return scheme, parts.hostname.lower(), port or default, parts.path.rstrip("/")


def check_origin(request: AuthRequest, portal: str) -> None:
    """Refuse (AppError) unless the request's origin is the wallet's portal.

    The origin names the site where the login was started; the e-ID belongs to one portal and
    answers only that portal's requests. Scheme and host compare case-insensitively, an omitted
    default port equals the explicit one (RFC 3986 6.2.3), a trailing slash is ignored.
    """
    ours = _origin_key(portal)
    if ours is None or _origin_key(request.origin) != ours:
        raise AppError(
            f"refused: the login was started at {request.origin}, "
            f"but this e-ID belongs to {portal}"
        )


def auth_challenge(request: AuthRequest, number: str) -> bytes:
    """The bytes the app signs: `EIDAUTH1|<reference>|<origin>|<number>|<nonce>` in UTF-8.

    The origin is used exactly as the portal sent it.
    """
    fields = (AUTH_PREFIX, request.reference, request.origin, number, request.nonce)
    return "|".join(fields).encode("utf-8")


def deny_challenge(request: AuthRequest) -> bytes:
    """The bytes the app signs to deny: `EIDDENY1|<reference>|<origin>|<nonce>` in UTF-8, the
    origin exactly as the portal sent it."""
    fields = (DENY_PREFIX, request.reference, request.origin, request.nonce)
    return "|".join(fields).encode("utf-8")


def sign_challenge(key: ec.EllipticCurvePrivateKey, challenge: bytes) -> str:
    """ECDSA with SHA-256 over `challenge` (FIPS 186-5), DER-encoded (RFC 3279 2.2.3), base64
    with the standard alphabet and padding (RFC 4648 section 4)."""
    signature = key.sign(challenge, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode("ascii")


def _local_time(moment: dt.datetime) -> str:
    """`moment` in the device's local time zone, e.g. `2026-11-29 19:02:11 CET`."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z").strip()


# --- HTTP ----------------------------------------------------------------------------------------


def _portal_url(value: str) -> str:
    """argparse type: an http(s) base URL without a trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {value!r}")
    return value.rstrip("/")


def _warn_if_cleartext(portal: str) -> None:
    parts = urlsplit(portal)
    if parts.scheme == "https" or parts.hostname in (None, "localhost"):
        return
    try:
        if ipaddress.ip_address(parts.hostname).is_loopback:
            return
    except ValueError:
        pass
    print(
        "warning: the portal URL is not https; codes and certificates travel in clear",
        file=sys.stderr,
    )


def accept_language(environ: Mapping[str, str]) -> str | None:
    """The `Accept-Language` value (RFC 9110 12.5.4) for the user's POSIX locale: the first set of
    LC_ALL, LC_MESSAGES and LANG (their order of precedence), e.g. `sv_SE.UTF-8` → `sv-SE`.
    None for the C/POSIX locale or none set (the portal then answers in its default, Swedish).
    """
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            break
    else:
        return None
    tag = value.split(".", 1)[0].split("@", 1)[0]
    if tag in ("C", "POSIX") or not re.fullmatch(r"[A-Za-z]{2,3}(_[A-Za-z0-9]{2,3})?", tag):
        return None
    return tag.replace("_", "-")


def problem_from(status: int, content_type: str, body: bytes) -> PortalProblem:
    """A PortalProblem from an error response.

    RFC 9457 members (title, detail, status, code, type) when the body is problem JSON, else the
    HTTP status alone (not the English reason phrase of the status line).
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in ("application/problem+json", "application/json"):
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            data = None
        if isinstance(data, dict) and isinstance(data.get("title"), str):
            return PortalProblem(
                status=data["status"] if isinstance(data.get("status"), int) else status,
                title=data["title"],
                detail=str(data.get("detail") or ""),
                code=str(data.get("code") or ""),
                type_=str(data.get("type") or "about:blank"),
            )
    return PortalProblem(status=status, title=f"HTTP {status}")


def http_request(
    url: str,
    *,
    method: str = "GET",
    json_body: dict[str, str] | None = None,
    payload: tuple[bytes, str] | None = None,
    accept: str = "*/*",
    timeout: float = TIMEOUT_SECONDS,
) -> tuple[int, str, bytes]:
    """Send one request; return (status, content type, body) of a 2xx answer.

    The request body is `json_body` as JSON, or `payload` as (bytes, media type).
    Raises PortalProblem for an HTTP error status, AppError when the portal cannot be reached or
    answers more than `MAX_RESPONSE_BYTES`.
    """
    data = None
    headers = {"Accept": accept, "User-Agent": USER_AGENT}
    language = accept_language(os.environ)
    if language:
        headers["Accept-Language"] = language
    if json_body is not None:
        data = json.dumps(json_body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    elif payload is not None:
        data, headers["Content-Type"] = payload
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        # Only http(s) URLs get here: `_portal_url` checks the scheme.
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
            status = response.status
            content_type = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        try:
            error_body = exc.read(MAX_RESPONSE_BYTES)
        except (OSError, AttributeError):
            error_body = b""
        finally:
            exc.close()
        content_type = exc.headers.get("Content-Type", "") if exc.headers else ""
        raise problem_from(exc.code, content_type, error_body) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AppError(f"cannot reach {url}: {reason}") from exc
    if len(body) > MAX_RESPONSE_BYTES:
        raise AppError(f"the answer from {url} is too large")
    return status, content_type, body


# --- commands ------------------------------------------------------------------------------------


def cmd_activate(args: argparse.Namespace) -> int:
    wallet_path: Path = args.wallet
    _check_wallet_path(wallet_path, force=args.force)
    key = generate_device_key()
    try:
        csr_pem = build_csr(key, args.device_name or DEFAULT_CSR_NAME)
        body = activation_body(
            csr_pem,
            device_name=args.device_name,
            qr_payload=args.qr_payload,
            person_number=args.person_number,
            code=args.code,
        )
    except ValueError as exc:
        raise AppError(str(exc)) from exc
    _warn_if_cleartext(args.portal)
    status, _, raw = http_request(
        args.portal + ACTIVATIONS_PATH,
        method="POST",
        json_body=body,
        accept="application/json, application/problem+json",
    )
    if status != 201:
        raise AppError(f"unexpected answer from the portal: HTTP {status} (expected 201)")
    try:
        response = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AppError("the portal's answer is not JSON") from exc
    wallet = wallet_from_response(args.portal, key, response)
    write_wallet(wallet_path, wallet, force=args.force)
    cert = wallet.cert()
    print(f"activated e-ID {wallet.eid_id}")
    print(f"serial:    {format(cert.serial_number, 'x')}")
    print(f"valid to:  {_iso(cert.not_valid_after_utc)}")
    print(f"wallet:    {wallet_path}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    wallet = read_wallet(args.wallet)
    portal = args.portal or _portal_url(wallet.portal)
    _, _, ca_pem = http_request(portal + CA_PATH, accept="application/x-pem-file, */*")
    _, _, crl_der = http_request(portal + CRL_PATH, accept="application/pkix-crl, */*")
    now = dt.datetime.now(dt.UTC)
    verdict = verify_wallet(wallet, ca_pem, crl_der, now=now)
    if verdict.status == "valid":
        cert, ca = wallet.cert(), _load_cert(ca_pem, "the CA certificate")
        request, nonce = ocsp_request(cert, ca)
        _, _, answer = http_request(portal + OCSP_PATH, method="POST",
                                    payload=(request, "application/ocsp-request"),
                                    accept="application/ocsp-response")
        verdict = check_ocsp(answer, cert=cert, ca=ca, nonce=nonce, now=now)
    print(verdict.line())
    return EXIT_OK if verdict.status == "valid" else EXIT_NOT_VALID


def describe(wallet: Wallet) -> list[str]:
    """The lines `show` prints: subject, serial, validity (UTC) and where the e-ID came from."""
    cert = wallet.cert()
    names = {NameOID.SERIAL_NUMBER: "serialNumber"}
    return [
        f"subject:     {cert.subject.rfc4514_string(names)}",
        f"serial:      {format(cert.serial_number, 'x')}",
        f"not before:  {_iso(cert.not_valid_before_utc)}",
        f"not after:   {_iso(cert.not_valid_after_utc)}",
        f"issuer:      {cert.issuer.rfc4514_string(names)}",
        f"sha-256:     {cert.fingerprint(hashes.SHA256()).hex()}",
        f"e-ID id:     {wallet.eid_id}",
        f"portal:      {wallet.portal}",
    ]


def cmd_show(args: argparse.Namespace) -> int:
    print("\n".join(describe(read_wallet(args.wallet))))
    return EXIT_OK


def _read_line(prompt: str | None = None) -> str:
    """One line from standard input (the prompt on standard error, so standard output stays the
    result); AppError at end of input."""
    if prompt:
        print(prompt, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise AppError("no input: nothing was typed")
    return line.strip()


def _ask_number() -> str:
    """Ask for the number the browser shows, up to three times."""
    for attempt in range(3):
        try:
            return normalise_number(_read_line("Type the number your browser shows: "))
        except UsageError as exc:
            if attempt == 2:
                raise
            print(exc, file=sys.stderr)
    raise AssertionError("unreachable")


def _json_answer(raw: bytes) -> object:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AppError("the portal's answer is not JSON") from exc


def cmd_approve(args: argparse.Namespace) -> int:
    wallet = read_wallet(args.wallet)
    text = _read_line() if args.request == "-" else args.request
    reference = parse_request_text(text)
    number = normalise_number(args.number) if args.number is not None else None
    portal = _portal_url(wallet.portal)
    _warn_if_cleartext(portal)
    url = portal + AUTH_REQUESTS_PATH + reference
    accept = "application/json, application/problem+json"
    status, _, raw = http_request(url, accept=accept)
    if status != 200:
        raise AppError(f"unexpected answer from the portal: HTTP {status} (expected 200)")
    request = parse_auth_request(reference, _json_answer(raw))
    check_origin(request, portal)
    print(f"service:  {request.service}")
    print(f"portal:   {request.origin}")
    print(f"time:     {_local_time(request.created_at)}")
    serial = format(wallet.cert().serial_number, "x")
    if args.deny:
        body = {"serial": serial, "signature": sign_challenge(wallet.key(), deny_challenge(request))}
        status, _, raw = http_request(url + "/denial", method="POST", json_body=body, accept=accept)
        expected = "denied"
    else:
        if number is None:
            number = _ask_number()
        body = {
            "serial": serial,
            "number": number,
            "signature": sign_challenge(wallet.key(), auth_challenge(request, number)),
        }
        status, _, raw = http_request(url + "/approval", method="POST", json_body=body,
                                      accept=accept)
        expected = "approved"
    answer = _json_answer(raw)
    if status != 200 or not isinstance(answer, dict) or answer.get("status") != expected:
        raise AppError(f"unexpected answer from the portal (expected status {expected!r})")
    print(expected)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eid_app", description="Reference mobile e-ID app for the portal's activation API."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    activate = commands.add_parser("activate", help="activate a new mobile e-ID")
    activate.add_argument(
        "--portal", required=True, type=_portal_url, metavar="URL", help="portal base URL"
    )
    activate.add_argument(
        "--wallet", required=True, type=Path, metavar="PATH", help="wallet file to create"
    )
    how = activate.add_mutually_exclusive_group(required=True)
    how.add_argument("--qr-payload", metavar="TEXT", help="the text of the scanned QR code")
    how.add_argument(
        "--person-number", metavar="NNNNNNNNNNNN", help="12-digit personnummer (with --code)"
    )
    activate.add_argument(
        "--code", metavar="XXXX-XXXX", help="activation code (with --person-number)"
    )
    activate.add_argument(
        "--device-name", metavar="NAME", help="name of this device (default: none)"
    )
    activate.add_argument("--force", action="store_true", help="replace an existing wallet")
    activate.set_defaults(handler=cmd_activate)

    verify = commands.add_parser(
        "verify", help="check the e-ID against the portal's CA, CRL and OCSP responder"
    )
    verify.add_argument("--wallet", required=True, type=Path, metavar="PATH")
    verify.add_argument(
        "--portal", type=_portal_url, metavar="URL", help="default: the wallet's portal"
    )
    verify.set_defaults(handler=cmd_verify)

    show = commands.add_parser("show", help="print the e-ID certificate")
    show.add_argument("--wallet", required=True, type=Path, metavar="PATH")
    show.set_defaults(handler=cmd_show)

    approve = commands.add_parser(
        "approve", help="approve (or deny) a login request shown in a browser"
    )
    approve.add_argument("--wallet", required=True, type=Path, metavar="PATH")
    approve.add_argument(
        "--request", required=True, metavar="TEXT",
        help="the QR code's text EIDAUTH1.<reference>, the app link or URL; - reads standard input",
    )
    answer = approve.add_mutually_exclusive_group()
    answer.add_argument(
        "--number", metavar="NN", help="the number the browser shows (default: ask for it)"
    )
    answer.add_argument("--deny", action="store_true", help="deny the login request")
    approve.set_defaults(handler=cmd_approve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "activate" and (args.person_number is None) != (args.code is None):
        parser.error("--person-number and --code go together")
    try:
        result: int = args.handler(args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except AppError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_ERROR
    except argparse.ArgumentTypeError as exc:
        print(f"the wallet's portal URL is unusable: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return result


if __name__ == "__main__":
    sys.exit(main())

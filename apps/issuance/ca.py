"""The portal's issuing CA: a CA key and certificate, mobile e-ID certificates, the CRL and the
delegated OCSP responder's certificate.

One EC key, one self-signed CA certificate, end-entity certificates for mobile e-IDs
(e-legitimation), the CRL that revokes them and the certificate of the OCSP responder that answers
for them (RFC 6960; the responses themselves are built in `apps.issuance.ocsp`).

Pure code: no Django, no database, no global state. Only the `cryptography` library.

Shapes and units
- Times are timezone-aware `datetime`s in UTC; a naive datetime raises `ValueError`. X.509 time
  encodings (UTCTime/GeneralizedTime, RFC 5280 4.1.2.5) have whole seconds, so microseconds are
  dropped (rounded down).
- Durations are whole seconds (`int`).
- Serial numbers are positive integers of at most 20 octets (RFC 5280 4.1.2.2);
  `x509.random_serial_number()` gives 159 random bits.
- PEM is ASCII text (`bytes` in, `str`/`bytes` out as documented per function).

Profile
- CA: EC P-384 key signing with ECDSA-SHA384; subject C=SE, O=<organisation>, CN=<common name>;
  basicConstraints CA:true, pathLenConstraint 0, critical (RFC 5280 4.2.1.9); keyUsage
  keyCertSign + cRLSign, critical (4.2.1.3); subjectKeyIdentifier (4.2.1.2); valid 10 years.
- End entity: EC P-256 key from a CSR (PKCS#10, RFC 2986) whose signature proves possession of
  the private key; subject C=SE, CN=<name>, serialNumber=<12-digit personnummer or
  samordningsnummer> as in the Swedish e-ID certificate profile. The subject comes only from the
  caller, never from the CSR. basicConstraints CA:false critical (4.2.1.9), keyUsage
  digitalSignature critical (4.2.1.3), extendedKeyUsage clientAuth (4.2.1.12),
  authorityKeyIdentifier (4.2.1.1), subjectKeyIdentifier (4.2.1.2), cRLDistributionPoints
  (4.2.1.13), authorityInfoAccess with the OCSP responder's URL (4.2.2.1).
- CRL: v2 with cRLNumber (RFC 5280 5.2.3) and authorityKeyIdentifier (5.2.1); nextUpdate never
  lies past the CA certificate's notAfter.
- OCSP responder (RFC 6960 4.2.2.2, a delegated responder): EC P-256 key signed by the CA; subject
  C=SE, O=<the CA's organisation>, CN=OCSP responder; basicConstraints CA:false critical,
  keyUsage digitalSignature critical, extendedKeyUsage id-kp-OCSPSigning, id-pkix-ocsp-nocheck
  (RFC 6960 4.2.2.2.1: relying parties do not check the responder's own revocation, so its
  validity is short), key identifiers; never valid past the CA. Files like the CA's: key PKCS#8
  PEM mode 0600, certificate PEM mode 0644; renewed with a new key before it expires.

Errors
`CAError(code, message)` for refused input and unusable CA files. Codes:
`csr.format`, `csr.key_type`, `csr.signature`, `subject.serial_number`, `subject.common_name`,
`subject.organisation`, `ca.inconsistent`, `ca.missing`, `ca.format`, `ca.key_type`,
`ca.mismatch`, `ca.not_ca`, `ca.expired`, `ocsp.missing`, `ocsp.format`, `ocsp.mismatch`,
`ocsp.expired`. Programming errors (naive datetimes, non-positive durations, a CRL number out of
range, a CRL or OCSP URL that is not http(s)) raise `ValueError`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from apps.core.files import write_atomically

__all__ = [
    "CA_VALIDITY_SECONDS",
    "CAError",
    "CAPaths",
    "IssuingCA",
    "OCSPResponder",
    "ensure_ca",
    "ensure_ocsp_responder",
    "fingerprint_sha256",
    "load_ca",
    "load_ocsp_responder",
    "serial_hex",
]

#: Validity of a new CA certificate: 10 years of 365.25 days, in seconds.
CA_VALIDITY_SECONDS: int = 3653 * 24 * 60 * 60
#: How far not_before is backdated to tolerate clock skew on relying parties, in seconds.
BACKDATE_SECONDS: int = 60
#: Upper bound of an accepted CSR, in bytes (a P-256 CSR in PEM is about 500 bytes).
MAX_CSR_BYTES: int = 16 * 1024
#: Largest CRL number: a non-negative integer of at most 20 octets (RFC 5280 5.2.3).
MAX_CRL_NUMBER: int = 2**159 - 1
#: Upper bound of commonName (RFC 5280 Appendix A, ub-common-name).
MAX_COMMON_NAME: int = 64

_PERSON_NUMBER = re.compile(r"\d{12}")
_KEY_FILE_MODE = 0o600
_CERT_FILE_MODE = 0o644
_DIR_MODE = 0o700
_ACCEPTED_CSR_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)


class CAError(Exception):
    """A CA operation refused: `code` is stable (callers branch on it), `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CAPaths:
    """Where a key pair lives: `key` (PKCS#8 PEM, mode 0600) and `cert` (PEM, mode 0644).

    Used for the CA and for its OCSP responder.
    """

    key: Path
    cert: Path


# --- helpers -------------------------------------------------------------------------------------


def _utc(value: dt.datetime, name: str) -> dt.datetime:
    """Return `value` in UTC with whole seconds; raise ValueError when it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got a naive datetime")
    return value.astimezone(dt.UTC).replace(microsecond=0)


def _positive_seconds(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return value


def _hash_for(key: ec.EllipticCurvePrivateKey) -> hashes.SHA256 | hashes.SHA384:
    """The ECDSA hash that matches the curve strength (P-256 → SHA-256, P-384 → SHA-384)."""
    return hashes.SHA384() if key.curve.key_size >= 384 else hashes.SHA256()


def _make_dirs(directory: Path) -> None:
    """Create `directory` and any missing ancestors, each with mode 0700.

    (os.makedirs would give intermediate directories the default mode.)
    """
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=_DIR_MODE)


@contextlib.contextmanager
def _locked(paths: CAPaths, *, shared: bool = False) -> Iterator[None]:
    """Hold a lock on a `<key>.lock` file beside the key: exclusive to write, `shared` to read.

    Concurrent workers calling `ensure_ca` then cannot write a key and a certificate that do not
    belong together, and a reader of the OCSP responder never sees a new key with an old
    certificate while it is renewed.
    """
    lock_path = paths.key.with_name(paths.key.name + ".lock")
    # A reader needs only read access to an existing lock file (flock works on any open file).
    access = os.O_RDONLY if shared else os.O_RDWR
    fd = os.open(lock_path, access | os.O_CREAT | os.O_NOFOLLOW, _KEY_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _check_consistent(paths: CAPaths) -> bool:
    """True when both CA files exist, False when neither does; CAError when only one does."""
    key_exists, cert_exists = paths.key.exists(), paths.cert.exists()
    if key_exists != cert_exists:
        present, missing = (paths.key, paths.cert) if key_exists else (paths.cert, paths.key)
        raise CAError(
            "ca.inconsistent",
            f"inconsistent CA files: {present} exists but {missing} is missing; restore the "
            "missing file from backup or remove both to create a new CA",
        )
    return key_exists


# --- creating and loading the CA -----------------------------------------------------------------


def ensure_ca(
    paths: CAPaths,
    *,
    common_name: str,
    organisation: str,
    now: dt.datetime | None = None,
) -> bool:
    """Create the CA key and self-signed certificate unless both files already exist.

    Returns False (and touches nothing) when both exist, True when it created them. `now` (aware,
    UTC; default the current time) sets not_before = now - 60 s and not_after = not_before + 10
    years (`CA_VALIDITY_SECONDS`). `common_name` and `organisation` are 1-64 characters.

    Files: missing parent directories are created with mode 0700; the key is written as
    unencrypted PKCS#8 PEM with mode 0600 (created 0600, never world readable), the certificate as
    PEM with mode 0644. Each file is written atomically (temporary file + rename), the key first.
    A `<key>.lock` file beside the key serialises concurrent callers.

    Raises CAError("ca.inconsistent") when exactly one of the two files exists: the pair cannot be
    repaired automatically (a new key would not match the old certificate, and vice versa);
    CAError("subject.common_name" / "subject.organisation") for empty or over-long names.
    Raises ValueError for a naive `now`; OSError when the files cannot be written.
    """
    when = _utc(now, "now") if now is not None else dt.datetime.now(dt.UTC).replace(microsecond=0)
    if _check_consistent(paths):
        return False
    for directory in (paths.key.parent, paths.cert.parent):
        _make_dirs(directory)
    with _locked(paths):
        if _check_consistent(paths):  # another process created it while we waited
            return False
        key = ec.generate_private_key(ec.SECP384R1())
        cert = _build_ca_certificate(
            key, common_name=common_name, organisation=organisation, now=when
        )
        _write_key_and_certificate(paths, key, cert)
    return True


def _write_key_and_certificate(paths: CAPaths, key: ec.EllipticCurvePrivateKey,
                               cert: x509.Certificate) -> None:
    """Write `key` (PKCS#8 PEM, mode 0600) and `cert` (PEM) to `paths` (the caller holds the lock)."""
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_atomically(paths.key, key_pem, _KEY_FILE_MODE)
    write_atomically(paths.cert, cert.public_bytes(serialization.Encoding.PEM), _CERT_FILE_MODE)


def _build_ca_certificate(
    key: ec.EllipticCurvePrivateKey, *, common_name: str, organisation: str, now: dt.datetime
) -> x509.Certificate:
    """The self-signed CA certificate (profile in the module docstring)."""
    if not common_name or len(common_name) > MAX_COMMON_NAME:
        raise CAError("subject.common_name", f"CA common name must be 1-{MAX_COMMON_NAME} chars")
    if not organisation or len(organisation) > MAX_COMMON_NAME:
        raise CAError("subject.organisation", f"organisation must be 1-{MAX_COMMON_NAME} chars")
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    not_before = now - dt.timedelta(seconds=BACKDATE_SECONDS)
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(seconds=CA_VALIDITY_SECONDS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, _hash_for(key))
    )


def load_ca(paths: CAPaths) -> IssuingCA:
    """Read the CA key and certificate from `paths` (nothing is cached between calls).

    Raises CAError: `ca.missing` (a file does not exist), `ca.format` (not PEM / not parseable),
    `ca.key_type` (the key is not an EC key), `ca.mismatch` (the key does not belong to the
    certificate), `ca.not_ca` (the certificate lacks basicConstraints CA:true, RFC 5280 4.2.1.9).
    """
    try:
        key_pem = paths.key.read_bytes()
        cert_pem = paths.cert.read_bytes()
    except FileNotFoundError as exc:
        raise CAError("ca.missing", f"CA file not found: {exc.filename}") from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CAError("ca.format", f"cannot read the CA key {paths.key}: {exc}") from exc
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise CAError("ca.format", f"cannot read the CA certificate {paths.cert}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CAError("ca.key_type", f"the CA key {paths.key} is not an EC key")
    if key.public_key() != cert.public_key():
        raise CAError(
            "ca.mismatch", f"the CA key {paths.key} does not belong to the certificate {paths.cert}"
        )
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise CAError("ca.not_ca", f"{paths.cert} is not a CA certificate (basicConstraints)")
    return IssuingCA(key=key, cert=cert)


# --- the CA at work ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuingCA:
    """A loaded CA: its EC private `key` and self-signed `cert`. Build with `load_ca`."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def _end_entity(self, subject: x509.Name, public_key: ec.EllipticCurvePublicKey,
                    not_before: dt.datetime, not_after: dt.datetime) -> x509.CertificateBuilder:
        """The part every end-entity certificate of this CA shares: issuer, a random serial,
        validity, basicConstraints CA:false (critical), keyUsage digitalSignature (critical) and the
        key identifiers (RFC 5280 4.2.1.9, 4.2.1.3, 4.2.1.1, 4.2.1.2); the caller adds its
        extendedKeyUsage and the rest."""
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(self._authority_key_identifier(), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )

    def _authority_key_identifier(self) -> x509.AuthorityKeyIdentifier:
        """AKI for what this CA signs: its own SKI when present (RFC 5280 4.2.1.1)."""
        try:
            ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        except x509.ExtensionNotFound:
            return x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key())
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)

    def issue(
        self,
        csr_pem: bytes,
        *,
        subject_serial_number: str,
        common_name: str,
        validity_seconds: int,
        crl_url: str,
        ocsp_url: str,
        now: dt.datetime,
    ) -> x509.Certificate:
        """Issue an end-entity certificate for the public key in `csr_pem` (PKCS#10 PEM).

        The CSR only proves possession of the private key; the subject is built solely from the
        arguments: C=SE, CN=`common_name` (1-64 chars), serialNumber=`subject_serial_number`
        (12 digits: personnummer or samordningsnummer, no separator). Validity: not_before =
        `now` - 60 s, not_after = `now` + `validity_seconds`, cut at the CA's own not_after so the
        certificate never outlives its issuer (RFC 5280 6.1.3 checks every certificate of the path
        at validation time). `crl_url` (http or https) goes into cRLDistributionPoints,
        `ocsp_url` (http or https) into authorityInfoAccess as id-ad-ocsp (RFC 5280 4.2.2.1).

        Raises CAError: `csr.format` (not a PEM CSR, or larger than 16 KiB), `csr.key_type` (the
        key is not EC P-256, or its curve is unknown), `csr.signature` (the CSR signature does not
        verify, uses a hash weaker than SHA-256 or an unknown algorithm), `subject.serial_number`,
        `subject.common_name`, `ca.expired` (the CA is not valid at `now`). Raises ValueError for
        a naive `now`, a non-positive `validity_seconds` or a non-http(s) `crl_url`/`ocsp_url`.
        """
        when = _utc(now, "now")
        _positive_seconds(validity_seconds, "validity_seconds")
        for url_name, url in (("crl_url", crl_url), ("ocsp_url", ocsp_url)):
            if urlsplit(url).scheme not in ("http", "https"):
                raise ValueError(f"{url_name} must be an http(s) URL, got {url!r}")
        if not _PERSON_NUMBER.fullmatch(subject_serial_number):
            raise CAError(
                "subject.serial_number",
                "the subject serial number must be a 12-digit person number without separator",
            )
        if not common_name.strip() or len(common_name) > MAX_COMMON_NAME:
            raise CAError(
                "subject.common_name", f"the common name must be 1-{MAX_COMMON_NAME} characters"
            )
        if not self.cert.not_valid_before_utc <= when <= self.cert.not_valid_after_utc:
            raise CAError("ca.expired", "the issuing CA certificate is not valid at this time")

        csr = _load_csr(csr_pem)
        # cryptography parses the key and the algorithms lazily: an unknown curve or signature
        # OID surfaces here as UnsupportedAlgorithm (or ValueError), never as a server error.
        try:
            public_key = csr.public_key()
        except (UnsupportedAlgorithm, ValueError) as exc:
            raise CAError("csr.key_type", "the CSR key must be an EC P-256 (secp256r1) key") from exc
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
            public_key.curve, ec.SECP256R1
        ):
            raise CAError("csr.key_type", "the CSR key must be an EC P-256 (secp256r1) key")
        weak = CAError("csr.signature", "the CSR must be signed with ECDSA and SHA-256 or better")
        try:
            hash_algorithm = csr.signature_hash_algorithm
        except (UnsupportedAlgorithm, ValueError) as exc:
            raise weak from exc
        if not isinstance(hash_algorithm, _ACCEPTED_CSR_HASHES):
            raise weak
        try:
            signature_valid = csr.is_signature_valid
        except (UnsupportedAlgorithm, ValueError) as exc:
            raise CAError("csr.signature", "the CSR signature does not verify") from exc
        if not signature_valid:
            raise CAError("csr.signature", "the CSR signature does not verify")

        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, subject_serial_number),
            ]
        )
        not_before = when - dt.timedelta(seconds=BACKDATE_SECONDS)
        not_after = min(
            when + dt.timedelta(seconds=validity_seconds), self.cert.not_valid_after_utc
        )
        crl_dp = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        return (
            self._end_entity(subject, public_key, not_before, not_after)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.CRLDistributionPoints([crl_dp]), critical=False)
            .add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(ocsp_url),
                        )
                    ]
                ),
                critical=False,
            )
            .sign(self.key, _hash_for(self.key))
        )

    def build_crl(
        self,
        revoked: Iterable[tuple[int, dt.datetime]],
        *,
        now: dt.datetime,
        next_update_seconds: int,
        crl_number: int,
    ) -> x509.CertificateRevocationList:
        """Build and sign a CRL listing `revoked` as (certificate serial, revocation time UTC).

        thisUpdate = `now`, nextUpdate = `now` + `next_update_seconds` (RFC 5280 5.1.2.4-5), cut
        at the CA certificate's notAfter: a CRL cannot speak for a CA past its validity, and a
        relying party that waits for such a nextUpdate would keep a list nobody can refresh.
        `crl_number` must increase with every CRL this CA publishes (RFC 5280 5.2.3; the caller
        keeps the counter) and be in 0..2**159-1. A serial listed twice appears once, with its
        earliest revocation time. Serialise with `crl.public_bytes(Encoding.DER)` to publish.

        Raises CAError("ca.expired") when `now` lies outside the CA certificate's validity;
        ValueError for a naive datetime, a non-positive `next_update_seconds`, a `crl_number` out
        of range or a non-positive serial.
        """
        when = _utc(now, "now")
        _positive_seconds(next_update_seconds, "next_update_seconds")
        if isinstance(crl_number, bool) or not 0 <= crl_number <= MAX_CRL_NUMBER:
            raise ValueError(f"crl_number must be in 0..2**159-1, got {crl_number!r}")
        if not self.cert.not_valid_before_utc <= when < self.cert.not_valid_after_utc:
            raise CAError("ca.expired", "the issuing CA certificate is not valid at this time")
        earliest: dict[int, dt.datetime] = {}
        for serial, revoked_at in revoked:
            if serial <= 0:
                raise ValueError(f"certificate serial numbers are positive, got {serial!r}")
            at = _utc(revoked_at, "revocation time")
            earliest[serial] = min(at, earliest.get(serial, at))
        # The builder takes the whole list at once: adding entries one by one copies the list
        # each time (quadratic for 100,000 entries).
        builder = x509.CertificateRevocationListBuilder(
            issuer_name=self.cert.subject,
            last_update=when,
            next_update=min(
                when + dt.timedelta(seconds=next_update_seconds), self.cert.not_valid_after_utc
            ),
            extensions=[
                x509.Extension(x509.CRLNumber.oid, False, x509.CRLNumber(crl_number)),
                x509.Extension(
                    x509.AuthorityKeyIdentifier.oid, False, self._authority_key_identifier()
                ),
            ],
            revoked_certificates=[
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(at).build()
                for serial, at in sorted(earliest.items())
            ],
        )
        return builder.sign(self.key, _hash_for(self.key))

    def issue_ocsp_responder(
        self, public_key: ec.EllipticCurvePublicKey, *, now: dt.datetime, validity_seconds: int
    ) -> x509.Certificate:
        """The certificate of a delegated OCSP responder for `public_key` (RFC 6960 4.2.2.2).

        Profile in the module docstring. Validity: not_before = `now` - 60 s, not_after =
        `now` + `validity_seconds`, cut at the CA's own not_after.

        Raises CAError("ca.expired") when the CA is not valid at `now`; ValueError for a naive
        `now` or a non-positive `validity_seconds`.
        """
        when = _utc(now, "now")
        _positive_seconds(validity_seconds, "validity_seconds")
        if not self.cert.not_valid_before_utc <= when < self.cert.not_valid_after_utc:
            raise CAError("ca.expired", "the issuing CA certificate is not valid at this time")
        organisation = self.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                *organisation,
                x509.NameAttribute(NameOID.COMMON_NAME, "OCSP responder"),
            ]
        )
        not_before = when - dt.timedelta(seconds=BACKDATE_SECONDS)
        return (
            self._end_entity(subject, public_key, not_before, min(
                when + dt.timedelta(seconds=validity_seconds), self.cert.not_valid_after_utc))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
            .add_extension(x509.OCSPNoCheck(), critical=False)
            .sign(self.key, _hash_for(self.key))
        )

    def ca_pem(self) -> str:
        """The CA certificate as PEM text (what `/issuance/ca.pem` serves)."""
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def chain_pem(self, cert: x509.Certificate) -> str:
        """`cert` followed by the CA certificate, both PEM, as one text (leaf first)."""
        return cert.public_bytes(serialization.Encoding.PEM).decode("ascii") + self.ca_pem()


# --- the delegated OCSP responder ----------------------------------------------------------------


@dataclass(frozen=True)
class OCSPResponder:
    """A loaded delegated OCSP responder: its EC private `key` and the `cert` the CA issued."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _read_ocsp_responder(paths: CAPaths, ca: IssuingCA) -> OCSPResponder:
    """Read the responder files (the caller holds the lock) and check they belong to `ca`."""
    try:
        key_pem = paths.key.read_bytes()
        cert_pem = paths.cert.read_bytes()
    except FileNotFoundError as exc:
        raise CAError("ocsp.missing", f"OCSP responder file not found: {exc.filename}") from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
        cert = x509.load_pem_x509_certificate(cert_pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CAError("ocsp.format", f"cannot read the OCSP responder files: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise CAError("ocsp.mismatch", f"the key {paths.key} does not belong to {paths.cert}")
    try:
        cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise CAError("ocsp.mismatch", f"{paths.cert} is not issued by the current CA") from exc
    return OCSPResponder(key=key, cert=cert)


def ensure_ocsp_responder(
    paths: CAPaths,
    ca: IssuingCA,
    *,
    validity_seconds: int,
    renew_before_seconds: int,
    now: dt.datetime | None = None,
) -> bool:
    """Create or renew the delegated OCSP responder's key and certificate; True when it did.

    Renews (a new key and a new certificate, `IssuingCA.issue_ocsp_responder`) when the files are
    missing or unreadable, when they were not issued by `ca` (a new CA), when the certificate is
    not yet valid, or when it ends within `renew_before_seconds` of `now` (default: the current
    time) and a new one would end later (a certificate cut at the CA's notAfter is kept until
    then). Files are written like the CA's (key 0600 first, then certificate 0644, each atomic)
    under the exclusive lock `<key>.lock`; `load_ocsp_responder` reads under the shared lock, so
    it never sees the new key with the old certificate.

    Raises CAError("ca.expired") when the CA is not valid at `now`; ValueError for a naive `now`
    or non-positive durations; OSError when the files cannot be written.
    """
    when = _utc(now, "now") if now is not None else dt.datetime.now(dt.UTC).replace(microsecond=0)
    _positive_seconds(validity_seconds, "validity_seconds")
    _positive_seconds(renew_before_seconds, "renew_before_seconds")
    for directory in (paths.key.parent, paths.cert.parent):
        _make_dirs(directory)
    with _locked(paths):
        try:
            current = _read_ocsp_responder(paths, ca).cert
        except CAError:
            current = None
        if current is not None and current.not_valid_before_utc <= when and (
            current.not_valid_after_utc - when > dt.timedelta(seconds=renew_before_seconds)
            or current.not_valid_after_utc >= ca.cert.not_valid_after_utc
        ):
            return False
        key = ec.generate_private_key(ec.SECP256R1())
        cert = ca.issue_ocsp_responder(key.public_key(), now=when, validity_seconds=validity_seconds)
        _write_key_and_certificate(paths, key, cert)
    return True


def load_ocsp_responder(paths: CAPaths, ca: IssuingCA, *, now: dt.datetime) -> OCSPResponder:
    """Read the delegated OCSP responder of `ca` from `paths`, usable at `now` (aware, UTC).

    Raises CAError: `ocsp.missing` (a file or the folder does not exist or cannot be opened),
    `ocsp.format` (not PEM), `ocsp.mismatch` (the key does not belong to the certificate, or the
    certificate is not issued by `ca`), `ocsp.expired` (the certificate is not valid at `now`).
    """
    when = _utc(now, "now")
    try:
        with _locked(paths, shared=True):
            responder = _read_ocsp_responder(paths, ca)
    except OSError as exc:  # no folder, or a lock file this process may not open
        raise CAError("ocsp.missing", f"cannot open the OCSP responder files: {exc}") from exc
    if not responder.cert.not_valid_before_utc <= when <= responder.cert.not_valid_after_utc:
        raise CAError("ocsp.expired", "the OCSP responder certificate is not valid at this time")
    return responder


def _load_csr(csr_pem: bytes) -> x509.CertificateSigningRequest:
    """Parse a PEM CSR; CAError("csr.format") when it is not one."""
    if not isinstance(csr_pem, bytes | bytearray) or len(csr_pem) > MAX_CSR_BYTES:
        raise CAError("csr.format", f"the CSR must be PEM bytes of at most {MAX_CSR_BYTES} bytes")
    try:
        return x509.load_pem_x509_csr(bytes(csr_pem))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CAError("csr.format", "the CSR is not a valid PEM certificate request") from exc


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """SHA-256 over the certificate's DER: 64 lowercase hex characters, no colons."""
    return cert.fingerprint(hashes.SHA256()).hex()


def serial_hex(serial: int) -> str:
    """A serial number as lowercase hex, no colons (the `serial` field of the activation API)."""
    return format(serial, "x")

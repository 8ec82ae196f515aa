"""Tests for apps.issuance.ca: the issuing CA (pure, no database)."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
    ObjectIdentifier,
)

from apps.issuance.ca import (
    CA_VALIDITY_SECONDS,
    CAError,
    CAPaths,
    IssuingCA,
    ensure_ca,
    ensure_ocsp_responder,
    fingerprint_sha256,
    load_ca,
    load_ocsp_responder,
    serial_hex,
)

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
PNR = "191212121212"  # Tolvan Tolvansson, the synthetic test person
CRL_URL = "https://portal.example/issuance/crl"
OCSP_URL = "https://portal.example/issuance/ocsp"


@pytest.fixture
def paths(tmp_path: Path) -> CAPaths:
    return CAPaths(key=tmp_path / "ca" / "private" / "ca.key", cert=tmp_path / "ca" / "ca.pem")


@pytest.fixture
def ca(paths: CAPaths) -> IssuingCA:
    assert ensure_ca(paths, common_name="Test Issuing CA", organisation="Test Region", now=NOW)
    return load_ca(paths)


def make_csr(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
    *,
    subject: x509.Name | None = None,
) -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = subject or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "phone")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def issue(ca: IssuingCA, csr_pem: bytes, **overrides: object) -> x509.Certificate:
    kwargs: dict[str, object] = {
        "subject_serial_number": PNR,
        "common_name": "Tolvan Tolvansson",
        "validity_seconds": 2 * 365 * 24 * 3600,
        "crl_url": CRL_URL,
        "ocsp_url": OCSP_URL,
        "now": NOW,
    }
    kwargs.update(overrides)
    return ca.issue(csr_pem, **kwargs)  # type: ignore[arg-type]


# --- ensure_ca / load_ca -------------------------------------------------------------------------


def test_ensure_ca_writes_key_0600_cert_0644_dirs_0700(paths: CAPaths) -> None:
    assert ensure_ca(paths, common_name="Test Issuing CA", organisation="Test Region") is True
    assert stat.S_IMODE(paths.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.cert.stat().st_mode) == 0o644
    assert stat.S_IMODE(paths.key.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(paths.cert.parent.stat().st_mode) == 0o700
    assert paths.key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, clear
    assert not [p for p in paths.key.parent.iterdir() if p.name.endswith(".tmp")]


def test_ensure_ca_is_idempotent(paths: CAPaths) -> None:
    assert ensure_ca(paths, common_name="Test Issuing CA", organisation="Test Region") is True
    key, cert = paths.key.read_bytes(), paths.cert.read_bytes()
    assert ensure_ca(paths, common_name="Other", organisation="Other") is False
    assert paths.key.read_bytes() == key
    assert paths.cert.read_bytes() == cert


@pytest.mark.parametrize("remove", ["key", "cert"])
def test_ensure_ca_refuses_inconsistent_files(paths: CAPaths, remove: str) -> None:
    ensure_ca(paths, common_name="Test Issuing CA", organisation="Test Region")
    missing = getattr(paths, remove)
    missing.unlink()
    with pytest.raises(CAError) as info:
        ensure_ca(paths, common_name="Test Issuing CA", organisation="Test Region")
    assert info.value.code == "ca.inconsistent"
    assert str(missing) in info.value.message
    assert not missing.exists()


def test_ca_certificate_profile(ca: IssuingCA) -> None:
    cert = ca.cert
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "SE"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Test Region"
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert cert.not_valid_before_utc == NOW - dt.timedelta(seconds=60)
    years = (cert.not_valid_after_utc - cert.not_valid_before_utc).days / 365.25
    assert 9.99 < years < 10.01
    cert.verify_directly_issued_by(cert)


def test_load_ca_rejects_key_of_another_ca(paths: CAPaths, tmp_path: Path) -> None:
    ensure_ca(paths, common_name="A", organisation="A")
    other = CAPaths(key=tmp_path / "b.key", cert=tmp_path / "b.pem")
    ensure_ca(other, common_name="B", organisation="B")
    with pytest.raises(CAError) as info:
        load_ca(CAPaths(key=other.key, cert=paths.cert))
    assert info.value.code == "ca.mismatch"


def test_load_ca_missing_files(tmp_path: Path) -> None:
    with pytest.raises(CAError) as info:
        load_ca(CAPaths(key=tmp_path / "none.key", cert=tmp_path / "none.pem"))
    assert info.value.code == "ca.missing"


# --- issue ---------------------------------------------------------------------------------------


def test_issued_certificate_verifies_against_ca(ca: IssuingCA) -> None:
    cert = issue(ca, make_csr())
    cert.verify_directly_issued_by(ca.cert)
    assert cert.issuer == ca.cert.subject
    assert cert.not_valid_before_utc == NOW - dt.timedelta(seconds=60)
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=730)
    assert 0 < cert.serial_number < 2**159


def test_issued_certificate_profile(ca: IssuingCA) -> None:
    cert = issue(ca, make_csr())
    ext = cert.extensions
    bc = ext.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    ku = ext.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    eku = ext.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    dps = ext.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for n in dps[0].full_name or []] == [CRL_URL]
    aia = ext.get_extension_for_class(x509.AuthorityInformationAccess)
    assert not aia.critical
    assert [(d.access_method, d.access_location.value) for d in aia.value] == [
        (AuthorityInformationAccessOID.OCSP, OCSP_URL)
    ]


def test_subject_comes_from_arguments_not_csr(ca: IssuingCA) -> None:
    forged = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Someone Else"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "199001011234"),
        ]
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue(ca, make_csr(key, subject=forged))
    assert cert.subject == x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Tolvan Tolvansson"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, PNR),
        ]
    )
    assert cert.public_key() == key.public_key()


def test_rsa_csr_is_refused(ca: IssuingCA) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(CAError) as info:
        issue(ca, make_csr(rsa_key))
    assert info.value.code == "csr.key_type"


def test_p384_csr_is_refused(ca: IssuingCA) -> None:
    with pytest.raises(CAError) as info:
        issue(ca, make_csr(ec.generate_private_key(ec.SECP384R1())))
    assert info.value.code == "csr.key_type"


def test_tampered_csr_is_refused(ca: IssuingCA) -> None:
    """Swap the public key of a CSR for another one: the signature no longer proves possession."""
    csr = x509.load_pem_x509_csr(make_csr())
    der = csr.public_bytes(serialization.Encoding.DER)
    own_spki = csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    other_spki = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert der.count(own_spki) == 1 and len(own_spki) == len(other_spki)
    tampered = x509.load_der_x509_csr(der.replace(own_spki, other_spki))
    with pytest.raises(CAError) as info:
        issue(ca, tampered.public_bytes(serialization.Encoding.PEM))
    assert info.value.code == "csr.signature"


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("2a8648ce3d040302", "2a8648ce3d040309", "csr.signature"),  # ecdsa-with-SHA256 -> unknown
        ("2a8648ce3d030107", "2a8648ce3d030108", "csr.key_type"),  # secp256r1 -> unknown curve
    ],
)
def test_csr_with_unknown_algorithm_is_refused(ca: IssuingCA, old: str, new: str, error: str) -> None:
    """One byte of an algorithm OID changed: cryptography cannot use it (UnsupportedAlgorithm)."""
    der = x509.load_pem_x509_csr(make_csr()).public_bytes(serialization.Encoding.DER)
    assert der.count(bytes.fromhex(old)) == 1
    changed = x509.load_der_x509_csr(der.replace(bytes.fromhex(old), bytes.fromhex(new)))
    with pytest.raises(CAError) as info:
        issue(ca, changed.public_bytes(serialization.Encoding.PEM))
    assert info.value.code == error


@pytest.mark.parametrize("junk", [b"", b"hello", b"-----BEGIN CERTIFICATE REQUEST-----\nAA==\n"])
def test_malformed_csr_is_refused(ca: IssuingCA, junk: bytes) -> None:
    with pytest.raises(CAError) as info:
        issue(ca, junk)
    assert info.value.code == "csr.format"


@pytest.mark.parametrize("bad", ["19121212-1212", "1912121212", "19121212121a", ""])
def test_subject_serial_number_must_be_12_digits(ca: IssuingCA, bad: str) -> None:
    with pytest.raises(CAError) as info:
        issue(ca, make_csr(), subject_serial_number=bad)
    assert info.value.code == "subject.serial_number"


def test_issue_rejects_naive_time_and_bad_validity(ca: IssuingCA) -> None:
    with pytest.raises(ValueError):
        issue(ca, make_csr(), now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError):
        issue(ca, make_csr(), validity_seconds=0)
    with pytest.raises(ValueError):
        issue(ca, make_csr(), crl_url="file:///etc/passwd")
    with pytest.raises(ValueError):
        issue(ca, make_csr(), ocsp_url="ldap://portal.example/ocsp")


def test_leaf_never_outlives_the_ca(ca: IssuingCA) -> None:
    late = ca.cert.not_valid_after_utc - dt.timedelta(days=10)
    cert = issue(ca, make_csr(), now=late, validity_seconds=365 * 24 * 3600)
    assert cert.not_valid_after_utc == ca.cert.not_valid_after_utc
    with pytest.raises(CAError) as info:
        issue(ca, make_csr(), now=ca.cert.not_valid_after_utc + dt.timedelta(seconds=1))
    assert info.value.code == "ca.expired"


def test_fingerprint_and_chain(ca: IssuingCA) -> None:
    cert = issue(ca, make_csr())
    fp = fingerprint_sha256(cert)
    assert len(fp) == 64 and fp == fp.lower() and ":" not in fp
    assert fp == cert.fingerprint(hashes.SHA256()).hex()
    chain = x509.load_pem_x509_certificates(ca.chain_pem(cert).encode())
    assert chain == [cert, ca.cert]
    assert serial_hex(cert.serial_number) == format(cert.serial_number, "x")


# --- CRL -----------------------------------------------------------------------------------------


def test_crl_lists_revoked_serials_and_verifies(ca: IssuingCA) -> None:
    revoked_cert = issue(ca, make_csr())
    kept_cert = issue(ca, make_csr())
    revoked_at = NOW + dt.timedelta(hours=1)
    crl = ca.build_crl(
        [(revoked_cert.serial_number, revoked_at), (revoked_cert.serial_number, NOW)],
        now=NOW + dt.timedelta(hours=2),
        next_update_seconds=3600,
        crl_number=7,
    )
    assert crl.is_signature_valid(ca.key.public_key())
    assert crl.issuer == ca.cert.subject
    entry = crl.get_revoked_certificate_by_serial_number(revoked_cert.serial_number)
    assert entry is not None and entry.revocation_date_utc == NOW  # earliest of the duplicates
    assert crl.get_revoked_certificate_by_serial_number(kept_cert.serial_number) is None
    assert len(crl) == 1
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    assert crl.last_update_utc == NOW + dt.timedelta(hours=2)
    assert crl.next_update_utc == NOW + dt.timedelta(hours=3)


def test_other_ca_with_same_name_does_not_verify(ca: IssuingCA, tmp_path: Path) -> None:
    """An impostor CA with the same subject: signatures, not names, decide."""
    other_paths = CAPaths(key=tmp_path / "o.key", cert=tmp_path / "o.pem")
    ensure_ca(other_paths, common_name="Test Issuing CA", organisation="Test Region", now=NOW)
    other = load_ca(other_paths)
    assert other.cert.subject == ca.cert.subject
    crl = other.build_crl([], now=NOW, next_update_seconds=60, crl_number=1)
    assert not crl.is_signature_valid(ca.key.public_key())
    with pytest.raises(InvalidSignature):
        issue(other, make_csr()).verify_directly_issued_by(ca.cert)


def test_crl_argument_checks(ca: IssuingCA) -> None:
    with pytest.raises(ValueError):
        ca.build_crl([], now=NOW, next_update_seconds=0, crl_number=1)
    with pytest.raises(ValueError):
        ca.build_crl([], now=NOW, next_update_seconds=60, crl_number=-1)
    with pytest.raises(ValueError):
        ca.build_crl([(1, NOW.replace(tzinfo=None))], now=NOW, next_update_seconds=60, crl_number=1)


def test_crl_next_update_is_cut_at_the_ca_expiry(paths: CAPaths) -> None:
    """A CRL cannot speak for a CA past its validity (found: nextUpdate lay past it)."""
    born = NOW - dt.timedelta(seconds=CA_VALIDITY_SECONDS) + dt.timedelta(minutes=20)
    ensure_ca(paths, common_name="Old CA", organisation="Region", now=born)
    ca = load_ca(paths)
    crl = ca.build_crl([], now=NOW, next_update_seconds=3600, crl_number=1)
    assert crl.next_update_utc == ca.cert.not_valid_after_utc < NOW + dt.timedelta(hours=1)
    with pytest.raises(CAError) as info:
        ca.build_crl([], now=ca.cert.not_valid_after_utc, next_update_seconds=3600, crl_number=2)
    assert info.value.code == "ca.expired"


def test_crl_with_many_entries_is_one_signed_list(ca: IssuingCA) -> None:
    revoked = [(serial, NOW) for serial in range(1, 2001)]
    crl = ca.build_crl(revoked, now=NOW, next_update_seconds=60, crl_number=3)
    assert len(crl) == 2000 and crl.is_signature_valid(ca.key.public_key())
    assert [entry.serial_number for entry in crl][:3] == [1, 2, 3]


# --- the delegated OCSP responder ----------------------------------------------------------------

OCSP_NOCHECK = ObjectIdentifier("1.3.6.1.5.5.7.48.1.5")
DAY = 24 * 3600


@pytest.fixture
def responder_paths(tmp_path: Path) -> CAPaths:
    return CAPaths(key=tmp_path / "ca" / "ocsp.key", cert=tmp_path / "ca" / "ocsp.pem")


def _ensure(paths: CAPaths, ca: IssuingCA, now: dt.datetime = NOW) -> bool:
    return ensure_ocsp_responder(paths, ca, validity_seconds=30 * DAY,
                                 renew_before_seconds=10 * DAY, now=now)


def test_ocsp_responder_certificate_profile(ca: IssuingCA, responder_paths: CAPaths) -> None:
    assert _ensure(responder_paths, ca) is True
    responder = load_ocsp_responder(responder_paths, ca, now=NOW)
    cert = responder.cert
    cert.verify_directly_issued_by(ca.cert)
    assert responder.key.public_key() == cert.public_key()
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "OCSP responder"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Test Region"
    ext = cert.extensions
    assert list(ext.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.OCSP_SIGNING
    ]
    nocheck = ext.get_extension_for_oid(OCSP_NOCHECK)
    assert isinstance(nocheck.value, x509.OCSPNoCheck) and not nocheck.critical
    ku = ext.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    bc = ext.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    assert cert.not_valid_before_utc == NOW - dt.timedelta(seconds=60)
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=30)
    assert stat.S_IMODE(responder_paths.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(responder_paths.cert.stat().st_mode) == 0o644


def test_ocsp_responder_is_kept_then_renewed_before_it_expires(
    ca: IssuingCA, responder_paths: CAPaths
) -> None:
    assert _ensure(responder_paths, ca) is True
    first = load_ocsp_responder(responder_paths, ca, now=NOW)
    assert _ensure(responder_paths, ca, now=NOW + dt.timedelta(days=19)) is False
    assert load_ocsp_responder(responder_paths, ca, now=NOW).cert == first.cert

    later = NOW + dt.timedelta(days=21)  # 9 days left: renewed, with a new key
    assert _ensure(responder_paths, ca, now=later) is True
    renewed = load_ocsp_responder(responder_paths, ca, now=later)
    assert renewed.cert.serial_number != first.cert.serial_number
    assert renewed.key.public_key() != first.key.public_key()
    assert renewed.cert.not_valid_after_utc == later + dt.timedelta(days=30)
    with pytest.raises(CAError) as info:
        load_ocsp_responder(responder_paths, ca, now=later + dt.timedelta(days=31))
    assert info.value.code == "ocsp.expired"


def test_ocsp_responder_never_outlives_the_ca(paths: CAPaths, responder_paths: CAPaths) -> None:
    born = NOW - dt.timedelta(seconds=CA_VALIDITY_SECONDS) + dt.timedelta(days=5)
    ensure_ca(paths, common_name="Old CA", organisation="Region", now=born)
    ca = load_ca(paths)
    assert _ensure(responder_paths, ca) is True
    cert = load_ocsp_responder(responder_paths, ca, now=NOW).cert
    assert cert.not_valid_after_utc == ca.cert.not_valid_after_utc
    # Cut at the CA's end already: a renewal could not end later, so it is kept.
    assert _ensure(responder_paths, ca, now=NOW + dt.timedelta(days=1)) is False


def test_ocsp_responder_of_another_ca_is_replaced(
    ca: IssuingCA, responder_paths: CAPaths, tmp_path: Path
) -> None:
    other_paths = CAPaths(key=tmp_path / "other.key", cert=tmp_path / "other.pem")
    ensure_ca(other_paths, common_name="Test Issuing CA", organisation="Test Region", now=NOW)
    other = load_ca(other_paths)
    assert _ensure(responder_paths, other) is True
    with pytest.raises(CAError) as info:
        load_ocsp_responder(responder_paths, ca, now=NOW)
    assert info.value.code == "ocsp.mismatch"
    assert _ensure(responder_paths, ca) is True
    load_ocsp_responder(responder_paths, ca, now=NOW).cert.verify_directly_issued_by(ca.cert)


def test_ocsp_responder_missing_or_broken(ca: IssuingCA, tmp_path: Path) -> None:
    missing = CAPaths(key=tmp_path / "nowhere" / "ocsp.key", cert=tmp_path / "nowhere" / "ocsp.pem")
    with pytest.raises(CAError) as info:
        load_ocsp_responder(missing, ca, now=NOW)
    assert info.value.code == "ocsp.missing"
    broken = CAPaths(key=tmp_path / "ocsp.key", cert=tmp_path / "ocsp.pem")
    broken.key.write_text("not a key")
    broken.cert.write_text("not a certificate")
    with pytest.raises(CAError) as info:
        load_ocsp_responder(broken, ca, now=NOW)
    assert info.value.code == "ocsp.format"
    assert _ensure(broken, ca) is True  # unreadable files are replaced
    assert stat.S_IMODE(broken.key.stat().st_mode) == 0o600

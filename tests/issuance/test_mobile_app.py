"""Tests for clients/mobile_app/eid_app.py, the reference mobile e-ID client.

The client is a stand-alone script, so it is loaded from its path. Most tests call its functions
directly (the OCSP answers come from the portal's own responder code); the last ones run the
command line: `verify` against the live portal (CA, CRL and OCSP), activation refusals against a
small in-process fake of the activation API.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import stat
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from apps.commissions.models import Employee
from apps.core.actors import SYSTEM
from apps.identities.models import User
from apps.issuance import authority, services
from apps.issuance import ocsp as portal_ocsp
from apps.issuance.ca import (
    CAError,
    CAPaths,
    IssuingCA,
    OCSPResponder,
    ensure_ca,
    ensure_ocsp_responder,
    load_ca,
    load_ocsp_responder,
    serial_hex,
)
from apps.issuance.models import MobileEID
from tests.issuance.support import issue

APP_PATH = Path(__file__).resolve().parents[2] / "clients" / "mobile_app" / "eid_app.py"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
PNR = "191212121212"
DAY = 24 * 3600


def _load_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eid_app", APP_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["eid_app"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


app = _load_app()


def _make_ca(directory: Path, name: str = "Test Issuing CA") -> IssuingCA:
    paths = CAPaths(key=directory / "ca.key", cert=directory / "ca.pem")
    ensure_ca(paths, common_name=name, organisation="Test Region", now=NOW - dt.timedelta(days=1))
    return load_ca(paths)


@pytest.fixture
def ca(tmp_path: Path) -> IssuingCA:
    return _make_ca(tmp_path / "ca")


def _issue(ca: IssuingCA, csr_pem: str, *, now: dt.datetime = NOW) -> x509.Certificate:
    return ca.issue(
        csr_pem.encode(),
        subject_serial_number=PNR,
        common_name="Tolvan Tolvansson",
        validity_seconds=365 * DAY,
        crl_url="http://127.0.0.1/issuance/crl",
        ocsp_url="http://127.0.0.1/issuance/ocsp",
        now=now,
    )


def _pem(cert: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)


def _crl(ca: IssuingCA, revoked: list[int], **kwargs: object) -> bytes:
    params: dict[str, object] = {"now": NOW, "next_update_seconds": DAY, "crl_number": 1}
    params.update(kwargs)
    return _der(ca.build_crl([(s, NOW) for s in revoked], **params))  # type: ignore[arg-type]


def _response(ca: IssuingCA, cert: x509.Certificate) -> dict[str, str]:
    return {
        "eid_id": "5b0f5d8e-0000-4000-8000-000000000001",
        "serial": serial_hex(cert.serial_number),
        "certificate": _pem(cert).decode(),
        "chain": ca.chain_pem(cert),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }


def _wallet(ca: IssuingCA, portal: str = "http://127.0.0.1:9") -> Any:  # eid_app.Wallet
    key = app.generate_device_key()
    cert = _issue(ca, app.build_csr(key, "phone"))
    return app.wallet_from_response(portal, key, _response(ca, cert))


# --- CSR and request body ------------------------------------------------------------------------


def test_build_csr_is_p256_signed_with_device_name() -> None:
    key = app.generate_device_key()
    csr = x509.load_pem_x509_csr(app.build_csr(key, "  Tolvan's phone ").encode())
    assert csr.is_signature_valid
    assert isinstance(csr.public_key(), ec.EllipticCurvePublicKey)
    assert isinstance(key.curve, ec.SECP256R1)
    assert csr.public_key() == key.public_key()
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Tolvan's phone"


@pytest.mark.parametrize("name", ["", "   ", "x" * 65])
def test_build_csr_refuses_bad_device_names(name: str) -> None:
    with pytest.raises(ValueError, match="device name"):
        app.build_csr(app.generate_device_key(), name)


def test_activation_body_modes() -> None:
    assert app.activation_body("CSR", device_name="p", qr_payload=" qr ") == {
        "csr": "CSR",
        "device_name": "p",
        "qr_payload": "qr",
    }
    assert app.activation_body(
        "CSR", device_name="p", person_number="19121212-1212", code="abcd-efgh"
    ) == {"csr": "CSR", "device_name": "p", "person_number": PNR, "code": "ABCD-EFGH"}
    with pytest.raises(ValueError, match="either"):
        app.activation_body("CSR", device_name="p", qr_payload="q", code="c")
    with pytest.raises(ValueError, match="both"):
        app.activation_body("CSR", device_name="p", person_number=PNR)
    with pytest.raises(ValueError, match="12 digits"):
        app.activation_body("CSR", device_name="p", person_number="1212121212", code="c")
    # No device name: none is sent (the portal shows "Mobile e-ID" in the reader's language).
    assert app.activation_body("CSR", qr_payload="qr") == {"csr": "CSR", "qr_payload": "qr"}
    assert app.activation_body("CSR", device_name=" ", qr_payload="qr") == {"csr": "CSR",
                                                                          "qr_payload": "qr"}


def test_csr_from_the_app_is_accepted_by_the_ca(ca: IssuingCA) -> None:
    key = app.generate_device_key()
    cert = _issue(ca, app.build_csr(key, "phone"))
    assert cert.public_key() == key.public_key()
    cert.verify_directly_issued_by(ca.cert)


# --- response checks and wallet file -------------------------------------------------------------


def test_wallet_from_response(ca: IssuingCA) -> None:
    key = app.generate_device_key()
    cert = _issue(ca, app.build_csr(key, "phone"))
    wallet = app.wallet_from_response("http://portal", key, _response(ca, cert))
    assert wallet.portal == "http://portal"
    assert wallet.eid_id == "5b0f5d8e-0000-4000-8000-000000000001"
    assert wallet.key().private_numbers() == key.private_numbers()
    assert wallet.private_key.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert wallet.cert() == cert


def test_wallet_from_response_refuses_certificate_for_another_key(ca: IssuingCA) -> None:
    key = app.generate_device_key()
    other_cert = _issue(ca, app.build_csr(app.generate_device_key(), "other"))
    with pytest.raises(app.AppError, match="not for this device"):
        app.wallet_from_response("http://portal", key, _response(ca, other_cert))


def test_wallet_from_response_refuses_foreign_chain(ca: IssuingCA, tmp_path: Path) -> None:
    key = app.generate_device_key()
    cert = _issue(ca, app.build_csr(key, "phone"))
    response = _response(ca, cert)
    response["chain"] = _make_ca(tmp_path / "other").chain_pem(cert)
    with pytest.raises(app.AppError, match="not signed by the CA"):
        app.wallet_from_response("http://portal", key, response)
    with pytest.raises(app.AppError, match="lacks 'serial'"):
        app.wallet_from_response("http://portal", key, {**_response(ca, cert), "serial": ""})


def test_write_wallet_mode_0600_and_round_trip(ca: IssuingCA, tmp_path: Path) -> None:
    wallet = _wallet(ca)
    path = tmp_path / "wallet.json"
    app.write_wallet(path, wallet)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert set(data) == {"portal", "private_key", "certificate", "chain", "eid_id"}
    assert app.read_wallet(path) == wallet


def test_write_wallet_refuses_overwrite_unless_forced(ca: IssuingCA, tmp_path: Path) -> None:
    (tmp_path / "phone").mkdir()
    path = tmp_path / "phone" / "wallet.json"
    path.write_text("precious")
    path.chmod(0o644)
    with pytest.raises(app.AppError, match="--force"):
        app.write_wallet(path, _wallet(ca))
    assert path.read_text() == "precious"
    wallet = _wallet(ca)
    app.write_wallet(path, wallet, force=True)
    assert app.read_wallet(path) == wallet
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["wallet.json"]  # no temporary left


def test_read_wallet_errors(tmp_path: Path) -> None:
    with pytest.raises(app.AppError, match="cannot read"):
        app.read_wallet(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"portal": "x"}')
    with pytest.raises(app.AppError, match="lacks 'private_key'"):
        app.read_wallet(tmp_path / "bad.json")


# --- verification (no HTTP: CA and CRL bytes passed in) ------------------------------------------


def test_verify_valid_and_revoked(ca: IssuingCA) -> None:
    wallet = _wallet(ca)
    serial = wallet.cert().serial_number
    ca_pem = _pem(ca.cert)
    assert app.verify_wallet(wallet, ca_pem, _crl(ca, []), now=NOW) == app.Verdict("valid")
    verdict = app.verify_wallet(wallet, ca_pem, _crl(ca, [serial + 1, serial]), now=NOW)
    assert verdict.status == "revoked"
    assert verdict.line().startswith("revoked")
    # a PEM CRL is accepted too
    pem_crl = _pem(ca.build_crl([(serial, NOW)], now=NOW, next_update_seconds=60, crl_number=2))
    assert app.verify_certificate(wallet.certificate.encode(), ca_pem, pem_crl, now=NOW).status == (
        "revoked"
    )


def test_verify_outside_validity(ca: IssuingCA) -> None:
    cert_pem = _wallet(ca).certificate.encode()
    ca_pem, crl = _pem(ca.cert), _crl(ca, [])
    before = app.verify_certificate(cert_pem, ca_pem, crl, now=NOW - dt.timedelta(hours=1))
    assert before.status == "invalid"
    assert "not valid before" in before.reason
    after = app.verify_certificate(cert_pem, ca_pem, crl, now=NOW + dt.timedelta(days=366))
    assert after.status == "invalid"
    assert "expired" in after.reason or "CRL" in after.reason


def test_verify_rejects_certificate_of_another_ca(ca: IssuingCA, tmp_path: Path) -> None:
    impostor = _make_ca(tmp_path / "impostor")  # same subject name, other key
    cert_pem = _wallet(impostor).certificate.encode()
    verdict = app.verify_certificate(cert_pem, _pem(ca.cert), _crl(ca, []), now=NOW)
    assert verdict == app.Verdict("invalid", "the certificate is not issued by the portal's CA")


def test_verify_rejects_crl_of_another_ca(ca: IssuingCA, tmp_path: Path) -> None:
    impostor = _make_ca(tmp_path / "impostor")
    cert_pem = _wallet(ca).certificate.encode()
    verdict = app.verify_certificate(cert_pem, _pem(ca.cert), _crl(impostor, []), now=NOW)
    assert verdict.status == "invalid"
    assert "CRL" in verdict.reason


def test_verify_rejects_stale_crl(ca: IssuingCA) -> None:
    cert_pem = _wallet(ca).certificate.encode()
    stale = _crl(ca, [], now=NOW - dt.timedelta(hours=2), next_update_seconds=3600)
    verdict = app.verify_certificate(cert_pem, _pem(ca.cert), stale, now=NOW)
    assert verdict.status == "invalid"
    assert "out of date" in verdict.reason


def test_verify_wallet_rejects_a_different_portal_ca(ca: IssuingCA, tmp_path: Path) -> None:
    wallet = _wallet(ca)
    other = _make_ca(tmp_path / "other", name="Other CA")
    verdict = app.verify_wallet(wallet, _pem(other.cert), _crl(other, []), now=NOW)
    assert verdict == app.Verdict("invalid", "the portal's CA differs from the CA in the wallet")


# --- OCSP (the answers come from the portal's responder code, apps.issuance.ocsp) -----------------


def _responder(ca: IssuingCA, folder: Path) -> OCSPResponder:
    paths = CAPaths(key=folder / "ocsp.key", cert=folder / "ocsp.pem")
    ensure_ocsp_responder(paths, ca, validity_seconds=30 * DAY, renew_before_seconds=DAY,
                          now=NOW - dt.timedelta(hours=1))
    return load_ocsp_responder(paths, ca, now=NOW)


@pytest.fixture
def responder(ca: IssuingCA, tmp_path: Path) -> OCSPResponder:
    return _responder(ca, tmp_path / "ca")


GOOD = portal_ocsp.SerialStatus()


def _answer(ca: IssuingCA, responder: OCSPResponder, request: bytes, *,
            status: portal_ocsp.SerialStatus | None = GOOD) -> bytes:
    response = portal_ocsp.respond(portal_ocsp.parse_request(request), issuer=ca.cert,
                                   responder=responder, lookup=lambda serial: status, now=NOW,
                                   validity_seconds=300)
    return response.public_bytes(serialization.Encoding.DER)


def _check(ca: IssuingCA, cert: x509.Certificate, answer: bytes, nonce: bytes,
           now: dt.datetime = NOW) -> Any:
    return app.check_ocsp(answer, cert=cert, ca=ca.cert, nonce=nonce, now=now)


def test_ocsp_request_is_sha256_with_a_fresh_32_octet_nonce(ca: IssuingCA) -> None:
    cert = _wallet(ca).cert()
    first, nonce = app.ocsp_request(cert, ca.cert)
    second, other_nonce = app.ocsp_request(cert, ca.cert)
    request = ocsp.load_der_ocsp_request(first)
    assert request.serial_number == cert.serial_number
    assert isinstance(request.hash_algorithm, hashes.SHA256)
    assert request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    assert len(nonce) == 32 and nonce != other_nonce and first != second


def test_ocsp_good_revoked_unknown(ca: IssuingCA, responder: OCSPResponder) -> None:
    cert = _wallet(ca).cert()
    request, nonce = app.ocsp_request(cert, ca.cert)
    assert _check(ca, cert, _answer(ca, responder, request), nonce) == app.Verdict("valid")
    revoked = _answer(ca, responder, request, status=portal_ocsp.SerialStatus(revoked_at=NOW))
    verdict = _check(ca, cert, revoked, nonce)
    assert verdict.status == "revoked" and "OCSP" in verdict.reason
    unknown = _check(ca, cert, _answer(ca, responder, request, status=None), nonce)
    assert unknown == app.Verdict("invalid", "the OCSP responder does not know the certificate")


def test_ocsp_answer_must_echo_our_nonce(ca: IssuingCA, responder: OCSPResponder) -> None:
    """An answer recorded for an earlier request (another nonce) is a replay."""
    cert = _wallet(ca).cert()
    earlier, _ = app.ocsp_request(cert, ca.cert)
    _, nonce = app.ocsp_request(cert, ca.cert)
    verdict = _check(ca, cert, _answer(ca, responder, earlier), nonce)
    assert verdict.status == "invalid" and "nonce" in verdict.reason


def test_ocsp_signer_must_be_delegated_by_the_ca(ca: IssuingCA, responder: OCSPResponder,
                                                 tmp_path: Path) -> None:
    wallet = _wallet(ca)
    cert = wallet.cert()
    request, nonce = app.ocsp_request(cert, ca.cert)
    impostor_ca = _make_ca(tmp_path / "impostor")  # same name, other key
    impostor = _responder(impostor_ca, tmp_path / "impostor")
    verdict = _check(ca, cert, _answer(ca, impostor, request), nonce)
    assert verdict == app.Verdict("invalid", "the OCSP responder is not delegated by the "
                                             "portal's CA")
    # An e-ID holder's own certificate is issued by the CA, but not for OCSP signing.
    holder = OCSPResponder(key=wallet.key(), cert=cert)
    verdict = _check(ca, cert, _answer(ca, holder, request), nonce)
    assert "may not sign OCSP" in verdict.reason and verdict.status == "invalid"
    # The real responder's answer with one bit of its signature changed: it does not verify.
    answer = _answer(ca, responder, request)
    signature = ocsp.load_der_ocsp_response(answer).signature
    assert answer.count(signature) == 1
    forged = answer.replace(signature, signature[:-1] + bytes([signature[-1] ^ 1]))
    verdict = _check(ca, cert, forged, nonce)
    assert verdict == app.Verdict("invalid", "the OCSP answer's signature does not verify")


def test_ocsp_answer_about_another_certificate_or_out_of_date(
    ca: IssuingCA, responder: OCSPResponder
) -> None:
    cert, other = _wallet(ca).cert(), _wallet(ca).cert()
    other_request, nonce = app.ocsp_request(other, ca.cert)
    verdict = _check(ca, cert, _answer(ca, responder, other_request), nonce)
    assert verdict == app.Verdict("invalid", "the OCSP answer is about another certificate")
    request, nonce = app.ocsp_request(cert, ca.cert)
    answer = _answer(ca, responder, request)
    late = _check(ca, cert, answer, nonce, now=NOW + dt.timedelta(minutes=6))
    assert late == app.Verdict("invalid", "the OCSP answer is out of date")
    early = _check(ca, cert, answer, nonce, now=NOW - dt.timedelta(minutes=6))
    assert early == app.Verdict("invalid", "the OCSP answer is out of date")


def test_ocsp_unsuccessful_or_unreadable_answers(ca: IssuingCA) -> None:
    cert = _wallet(ca).cert()
    refused = portal_ocsp.refusal(ocsp.OCSPResponseStatus.TRY_LATER)
    verdict = _check(ca, cert, refused.public_bytes(serialization.Encoding.DER), b"n")
    assert verdict == app.Verdict("invalid", "the OCSP responder answered TRY_LATER")
    with pytest.raises(app.AppError, match="OCSP answer cannot be read"):
        _check(ca, cert, b"<html>proxy error</html>", b"n")


def test_problem_from_rfc9457_and_plain_errors() -> None:
    body = json.dumps(
        {
            "type": "https://portal.example/problems/activation",
            "title": "Activation refused",
            "status": 400,
            "detail": "The code is used or expired.",
            "code": "activation.code_invalid",
        }
    ).encode()
    problem = app.problem_from(400, "application/problem+json; charset=utf-8", body)
    assert str(problem) == "The code is used or expired."  # the detail, without the title
    assert problem.title == "Activation refused"
    assert problem.code == "activation.code_invalid"
    plain = app.problem_from(502, "text/html", b"<html>bad gateway</html>")
    assert str(plain) == "HTTP 502"  # no English reason phrase


def test_a_refusal_prints_the_detail_in_the_users_language_without_a_reason_phrase() -> None:
    """Found: the app printed "Conflict: Aktiveringskoden har redan använts." (an
    English HTTP reason phrase before the Swedish detail)."""
    body = json.dumps({"type": "https://iam-portal.example/problems/code_used", "title": "Conflict",
                       "status": 409, "detail": "Aktiveringskoden har redan använts.",
                       "code": "code_used"}).encode()
    problem = app.problem_from(409, "application/problem+json", body)
    assert str(problem) == "Aktiveringskoden har redan använts."


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "sv_SE.UTF-8"}, "sv-SE"),
        ({"LANG": "en_GB.UTF-8"}, "en-GB"),
        ({"LC_ALL": "en_US.UTF-8", "LANG": "sv_SE.UTF-8"}, "en-US"),
        ({"LC_MESSAGES": "sv_FI@euro", "LANG": "en_GB.UTF-8"}, "sv-FI"),
        ({"LANG": "sv"}, "sv"),
        ({"LANG": "C.UTF-8"}, None),
        ({"LANG": "POSIX"}, None),
        ({"LANG": "x;y=z"}, None),
        ({}, None),
    ],
)
def test_accept_language_comes_from_the_posix_locale(environ: dict[str, str],
                                                     expected: str | None) -> None:
    assert app.accept_language(environ) == expected


def test_show(ca: IssuingCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wallet = _wallet(ca)
    path = tmp_path / "wallet.json"
    app.write_wallet(path, wallet)
    assert app.main(["show", "--wallet", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"serialNumber={PNR}" in out
    assert "CN=Tolvan Tolvansson" in out
    assert serial_hex(wallet.cert().serial_number) in out
    assert "not after:" in out


def test_activate_refuses_existing_wallet_before_contacting_portal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wallet.json"
    path.write_text("{}")
    argv = ["activate", "--portal", "http://127.0.0.1:9", "--wallet", str(path)]
    assert app.main([*argv, "--person-number", PNR, "--code", "ABCD-EFGH"]) == 1
    assert "--force" in capsys.readouterr().err
    assert path.read_text() == "{}"


# --- the command line against an in-process fake portal ------------------------------------------


class FakePortal:
    """Just enough of the portal's activation API to test refusals, in a thread."""

    def __init__(self, ca: IssuingCA) -> None:
        self.ca = ca
        self.codes = {("191212121212", "ABCD-EFGH"), ("qr-ok", "")}
        self.activations: list[tuple[str | None, dict[str, str]]] = []  # (Accept-Language, body)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _problem(self, status: int, title: str, detail: str, code: str) -> None:
                problem = {"type": "about:blank", "title": title, "status": status}
                problem |= {"detail": detail, "code": code}
                self._send(status, "application/problem+json", json.dumps(problem).encode())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                portal.activations.append((self.headers.get("Accept-Language"), body))
                if self.path != "/api/v1/eid/activations":
                    self._send(404, "text/plain", b"not found")
                    return
                key = body.get("qr_payload") or body.get("person_number"), body.get("code", "")
                if key not in portal.codes:
                    self._problem(400, "Activation refused", "The code is used or expired.", "x")
                    return
                portal.codes.discard(key)
                try:
                    cert = _issue(portal.ca, body["csr"], now=dt.datetime.now(dt.UTC))
                except CAError as exc:
                    self._problem(400, "Bad CSR", exc.message, exc.code)
                    return
                answer = _response(portal.ca, cert)
                self._send(201, "application/json", json.dumps(answer).encode())

        return Handler


@pytest.fixture
def portal(ca: IssuingCA) -> Iterator[FakePortal]:
    fake = FakePortal(ca)
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        thread.join()


@pytest.mark.django_db(transaction=True)
def test_activate_and_verify_with_crl_and_ocsp_against_the_live_portal(
    live_server: Any, settings: Any, nurse: tuple[User, Employee], issuing_ca: IssuingCA,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    settings.PORTAL_BASE_URL = live_server.url
    person = nurse[0].person
    path = tmp_path / "wallet.json"
    argv = ["activate", "--portal", live_server.url + "/", "--wallet", str(path)]
    assert app.main([*argv, "--qr-payload", issue(person).qr_payload]) == 0
    assert "activated e-ID" in capsys.readouterr().out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert app.read_wallet(path).portal == live_server.url

    assert app.main(["verify", "--wallet", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "valid"

    # verify asks the OCSP responder too: without its certificate the portal answers tryLater.
    responder = authority.ocsp_paths().cert
    kept = responder.read_bytes()
    responder.unlink()
    assert app.main(["verify", "--wallet", str(path)]) == 2
    assert capsys.readouterr().out.strip() == "invalid: the OCSP responder answered TRY_LATER"
    responder.write_bytes(kept)

    services.eid_revoke(actor=SYSTEM, eid=MobileEID.objects.get(person=person),
                        reason="Phone lost")
    assert app.main(["verify", "--wallet", str(path), "--portal", live_server.url]) == 2
    assert capsys.readouterr().out.startswith("revoked: since")


def test_activate_with_qr_payload_and_refusals(
    portal: FakePortal, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wallet.json"
    argv = ["activate", "--portal", portal.url, "--wallet", str(path), "--qr-payload", "qr-ok"]
    assert app.main(argv) == 0
    capsys.readouterr()
    # the code is single-use: a second activation is refused with the problem's detail
    assert app.main([*argv, "--force"]) == 1
    assert capsys.readouterr().err.strip() == "The code is used or expired."
    assert app.read_wallet(path).eid_id  # the first wallet is kept


def test_unreachable_portal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "wallet.json"
    argv = ["activate", "--portal", "http://127.0.0.1:9", "--wallet", str(path)]
    assert app.main([*argv, "--qr-payload", "x"]) == 1
    assert "cannot reach" in capsys.readouterr().err
    assert not path.exists()

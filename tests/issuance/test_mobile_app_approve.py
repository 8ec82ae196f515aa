"""Tests for `eid_app.py approve`: the reference app answering a login request shown in a browser.

The app is loaded from its path. The portal's side is a small in-process fake of the login-request
API (threading http.server) that serves a request's details and checks the approval the way the
contract says: the number, and an ECDSA P-256/SHA-256 signature by the wallet's key over
`EIDAUTH1|<reference>|<origin>|<number>|<nonce>`.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib.util
import io
import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from apps.issuance.ca import CAPaths, IssuingCA, ensure_ca, load_ca, serial_hex

APP_PATH = Path(__file__).resolve().parents[2] / "clients" / "mobile_app" / "eid_app.py"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
REF = "AbCdEfGhIjKlMnOpQrStUvWxYz0123-_"
NONCE = "0123456789abcdef0123456789abcdef"
NUMBER = "07"


def _load_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eid_app", APP_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["eid_app"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


app = _load_app()


@pytest.fixture
def ca(tmp_path: Path) -> IssuingCA:
    paths = CAPaths(key=tmp_path / "ca.key", cert=tmp_path / "ca.pem")
    ensure_ca(paths, common_name="Test Issuing CA", organisation="Test Region",
              now=NOW - dt.timedelta(days=1))
    return load_ca(paths)


def _wallet(ca: IssuingCA, portal: str) -> Any:  # eid_app.Wallet
    key = app.generate_device_key()
    cert = ca.issue(
        app.build_csr(key, "phone").encode(),
        subject_serial_number="191212121212",
        common_name="Tolvan Tolvansson",
        validity_seconds=365 * 24 * 3600,
        crl_url="http://127.0.0.1/issuance/crl",
        ocsp_url="http://127.0.0.1/issuance/ocsp",
        now=NOW,
    )
    response = {
        "eid_id": "5b0f5d8e-0000-4000-8000-000000000001",
        "serial": serial_hex(cert.serial_number),
        "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "chain": ca.chain_pem(cert),
    }
    return app.wallet_from_response(portal, key, response)


# --- the request text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"EIDAUTH1.{REF}",
        f"  EIDAUTH1.{REF}\n",
        f"eidapp://auth?ref=EIDAUTH1.{REF}",
        f"eidapp://auth?ref=EIDAUTH1%2E{REF}",
        f"https://portal.example/login/mobile-eid/EIDAUTH1.{REF}",
    ],
)
def test_request_text_forms_name_the_reference(text: str) -> None:
    assert app.parse_request_text(text) == REF


@pytest.mark.parametrize(
    "text",
    [
        "",
        REF,
        f"EIDAUTH2.{REF}",
        f"EIDAUTH1.{REF[:-1]}",
        f"EIDAUTH1.{REF}x",
        f"EIDAUTH1.{REF}&x=1",
        f"XEIDAUTH1.{REF}",
        f"EIDAUTH1.{REF[:-1]}!",
    ],
)
def test_other_texts_are_not_login_requests(text: str) -> None:
    with pytest.raises(app.UsageError, match="not a login request"):
        app.parse_request_text(text)


@pytest.mark.parametrize("typed, number", [("07", "07"), (" 4 2 ", "42"), ("00", "00")])
def test_number_is_two_digits(typed: str, number: str) -> None:
    assert app.normalise_number(typed) == number


@pytest.mark.parametrize("typed", ["7", "007", "ab", "", "０７"])
def test_other_numbers_are_refused(typed: str) -> None:
    with pytest.raises(app.UsageError, match="two digits"):
        app.normalise_number(typed)


# --- details, origin and challenge ---------------------------------------------------------------


def _details(origin: str, **changes: object) -> dict[str, object]:
    details: dict[str, object] = {
        "reference": REF,
        "service": "IAM portal",
        "origin": origin,
        "nonce": NONCE,
        "created_at": "2026-11-29T18:02:11Z",
        "expires_at": "2026-11-29T18:04:11Z",
    }
    details.update(changes)
    return details


def test_details_are_checked() -> None:
    request = app.parse_auth_request(REF, _details("https://portal.example"))
    assert request.created_at == dt.datetime(2026, 11, 29, 18, 2, 11, tzinfo=dt.UTC)
    cases: list[tuple[dict[str, object], str]] = [
        ({"reference": "x" * 32}, "another login request"),
        ({"nonce": "xyz"}, "nonce"),
        ({"nonce": None}, "lacks 'nonce'"),
        ({"origin": "https://a|b"}, "origin"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"expires_at": "2026-11-29T18:04:11"}, "expires_at"),  # no offset
    ]
    for changes, message in cases:
        with pytest.raises(app.AppError, match=message):
            app.parse_auth_request(REF, _details("https://portal.example") | changes)
    with pytest.raises(app.AppError, match="not a JSON object"):
        app.parse_auth_request(REF, [])


@pytest.mark.parametrize(
    "origin",
    ["https://portal.example", "https://portal.example/", "HTTPS://Portal.Example:443"],
)
def test_origin_of_the_wallets_portal_is_accepted(origin: str) -> None:
    app.check_origin(app.parse_auth_request(REF, _details(origin)), "https://portal.example")


@pytest.mark.parametrize(
    "origin",
    [
        "https://portal.example.evil.test",
        "http://portal.example",
        "https://portal.example:8443",
        "https://other.example",
        "https://portal.example/elsewhere",
        "not a url",
    ],
)
def test_origin_of_another_site_is_refused(origin: str) -> None:
    request = app.parse_auth_request(REF, _details(origin))
    with pytest.raises(app.AppError, match="refused: the login was started at"):
        app.check_origin(request, "https://portal.example")


def test_denial_challenge_is_its_own_format(ca: IssuingCA) -> None:
    wallet = _wallet(ca, "https://portal.example")
    request = app.parse_auth_request(REF, _details("https://portal.example/"))
    challenge = app.deny_challenge(request)
    assert challenge == f"EIDDENY1|{REF}|https://portal.example/|{NONCE}".encode()
    assert not challenge.startswith(b"EIDAUTH1|")
    signature = base64.b64decode(app.sign_challenge(wallet.key(), challenge), validate=True)
    public_key = wallet.cert().public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(signature, challenge, ec.ECDSA(hashes.SHA256()))


def test_challenge_bytes_and_signature(ca: IssuingCA) -> None:
    wallet = _wallet(ca, "https://portal.example")
    request = app.parse_auth_request(REF, _details("https://portal.example/"))
    challenge = app.auth_challenge(request, NUMBER)
    # the origin exactly as the portal sent it, trailing slash included
    assert challenge == f"EIDAUTH1|{REF}|https://portal.example/|07|{NONCE}".encode()
    signature = base64.b64decode(app.sign_challenge(wallet.key(), challenge), validate=True)
    decode_dss_signature(signature)  # DER
    public_key = wallet.cert().public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"
    public_key.verify(signature, challenge, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, challenge.replace(b"|07|", b"|08|"), ec.ECDSA(hashes.SHA256()))


# --- the command line against an in-process fake portal ------------------------------------------


class FakePortal:
    """The login-request API of the contract, for one pending request, in a thread."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.origin = self.url
        self.keys: dict[str, ec.EllipticCurvePublicKey] = {}  # serial (hex) -> public key
        self.status = "pending"
        self.calls: list[tuple[str, str, str | None, object]] = []  # method, path, lang, body
        self.verified: list[bytes] = []  # challenges whose signature verified

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        portal = self
        base = "/api/v1/eid/auth-requests/"

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def _send(self, status: int, body: object, content_type: str) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _problem(self, status: int, detail: str, code: str) -> None:
                problem = {"type": "about:blank", "title": "Refused", "status": status,
                           "detail": detail, "code": code}
                self._send(status, problem, "application/problem+json")

            def _record(self, body: object) -> None:
                language = self.headers.get("Accept-Language")
                portal.calls.append((self.command, self.path, language, body))

            def do_GET(self) -> None:
                self._record(None)
                if self.path != base + REF or portal.status != "pending":
                    self._problem(404, "The login request is unknown or has expired.", "not_found")
                    return
                self._send(200, _details(portal.origin), "application/json")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                self._record(body)
                if portal.status != "pending":
                    self._problem(404, "The login request is unknown or has expired.", "not_found")
                elif self.path == base + REF + "/denial":
                    self._deny(body)
                elif self.path == base + REF + "/approval":
                    self._approve(body)
                else:
                    self._problem(404, "Not found.", "not_found")

            def _verifies(self, body: dict[str, str], challenge: bytes) -> bool:
                key = portal.keys.get(body.get("serial", ""))
                try:
                    signature = base64.b64decode(body["signature"], validate=True)
                    assert key is not None
                    key.verify(signature, challenge, ec.ECDSA(hashes.SHA256()))
                except (AssertionError, KeyError, ValueError, InvalidSignature):
                    self._problem(403, "Not signed by that e-ID.", "auth.signature")
                    return False
                portal.verified.append(challenge)
                return True

            def _deny(self, body: dict[str, str]) -> None:
                if self._verifies(body, f"EIDDENY1|{REF}|{portal.origin}|{NONCE}".encode()):
                    portal.status = "denied"
                    self._send(200, {"status": "denied"}, "application/json")

            def _approve(self, body: dict[str, str]) -> None:
                if body.get("number") != NUMBER:
                    self._problem(403, "The number does not match your browser.", "auth.number")
                    return
                challenge = f"EIDAUTH1|{REF}|{portal.origin}|{body['number']}|{NONCE}".encode()
                if not self._verifies(body, challenge):
                    return
                portal.status = "approved"
                self._send(200, {"status": "approved"}, "application/json")

        return Handler


@pytest.fixture
def portal() -> Iterator[FakePortal]:
    fake = FakePortal()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        thread.join()


@pytest.fixture
def wallet_path(ca: IssuingCA, portal: FakePortal, tmp_path: Path) -> Path:
    wallet = _wallet(ca, portal.url)
    cert = wallet.cert()
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    portal.keys[serial_hex(cert.serial_number)] = public_key
    path = tmp_path / "wallet.json"
    app.write_wallet(path, wallet)
    return path


@pytest.fixture
def stockholm(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Stockholm")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_approve_with_number(
    portal: FakePortal, wallet_path: Path, stockholm: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LANG", "sv_SE.UTF-8")
    argv = ["approve", "--wallet", str(wallet_path), "--request", f"EIDAUTH1.{REF}"]
    assert app.main([*argv, "--number", NUMBER]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "service:  IAM portal",
        f"portal:   {portal.url}",
        "time:     2026-11-29 19:02:11 CET",  # 18:02:11 UTC in the device's time zone
        "approved",
    ]
    assert portal.status == "approved"
    assert portal.verified == [f"EIDAUTH1|{REF}|{portal.url}|07|{NONCE}".encode()]
    (_, _, language, _), (method, path, _, body) = portal.calls
    assert language == "sv-SE"
    assert (method, path) == ("POST", f"/api/v1/eid/auth-requests/{REF}/approval")
    assert isinstance(body, dict) and sorted(body) == ["number", "serial", "signature"]
    assert body["serial"] in portal.keys


def test_approve_asks_for_the_number(
    portal: FakePortal, wallet_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _stdin(monkeypatch, "7\n0 7\n")
    argv = ["approve", "--wallet", str(wallet_path), "--request", f"EIDAUTH1.{REF}"]
    assert app.main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == "approved"
    # the prompt and the complaint about "7" go to standard error; the result alone to output
    assert captured.err.count("Type the number your browser shows: ") == 2
    assert "two digits" in captured.err
    assert portal.verified


def test_approve_reads_the_request_from_stdin(
    portal: FakePortal, wallet_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _stdin(monkeypatch, f"eidapp://auth?ref=EIDAUTH1.{REF}\n07\n")
    assert app.main(["approve", "--wallet", str(wallet_path), "--request", "-"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "approved"


def test_wrong_number_prints_the_portals_detail(
    portal: FakePortal, wallet_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["approve", "--wallet", str(wallet_path), "--request", f"EIDAUTH1.{REF}"]
    assert app.main([*argv, "--number", "08"]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == "The number does not match your browser."
    assert "approved" not in captured.out
    assert portal.status == "pending"


def test_signature_by_another_key_is_refused_by_the_portal(
    portal: FakePortal, wallet_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    portal.keys = {serial: app.generate_device_key().public_key() for serial in portal.keys}
    argv = ["approve", "--wallet", str(wallet_path), "--request", f"EIDAUTH1.{REF}"]
    assert app.main([*argv, "--number", NUMBER]) == 1
    assert capsys.readouterr().err.strip() == "Not signed by that e-ID."


def test_deny(
    portal: FakePortal, wallet_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["approve", "--wallet", str(wallet_path), "--request", f"EIDAUTH1.{REF}", "--deny"]
    assert app.main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "denied"
    assert portal.status == "denied"
    assert portal.calls[-1][:2] == ("POST", f"/api/v1/eid/auth-requests/{REF}/denial")
    body = portal.calls[-1][3]
    assert isinstance(body, dict) and set(body) == {"serial", "signature"}
    assert body["serial"] in portal.keys
    assert portal.verified == [f"EIDDENY1|{REF}|{portal.url}|{NONCE}".encode()]
    # a second answer finds no pending request
    assert app.main(argv) == 1
    assert capsys.readouterr().err.strip() == "The login request is unknown or has expired."


def test_origin_mismatch_is_refused_before_anything_is_signed(
    portal: FakePortal, wallet_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    portal.origin = "https://portal.example.evil.test"
    for extra in (["--number", NUMBER], ["--deny"]):
        argv = ["approve", "--wallet", str(wallet_path), "--request", f"EIDAUTH1.{REF}", *extra]
        assert app.main(argv) == 1
        err = capsys.readouterr().err
        assert "refused: the login was started at https://portal.example.evil.test" in err
        assert f"this e-ID belongs to {portal.url}" in err
    assert [method for method, *_ in portal.calls] == ["GET", "GET"]
    assert portal.status == "pending"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--request", f"EIDAUTH1.{REF[:-3]}", "--number", NUMBER], "not a login request"),
        (["--request", f"EIDAUTH1.{REF}", "--number", "7"], "two digits"),
    ],
)
def test_unreadable_input_is_a_usage_error_and_contacts_nobody(
    portal: FakePortal, wallet_path: Path, capsys: pytest.CaptureFixture[str],
    extra: list[str], message: str,
) -> None:
    assert app.main(["approve", "--wallet", str(wallet_path), *extra]) == 2
    assert message in capsys.readouterr().err
    assert portal.calls == []


def test_number_and_deny_do_not_go_together(wallet_path: Path) -> None:
    argv = ["approve", "--wallet", str(wallet_path), "--request", f"EIDAUTH1.{REF}"]
    with pytest.raises(SystemExit) as exit_:
        app.main([*argv, "--number", NUMBER, "--deny"])
    assert exit_.value.code == 2


def test_no_number_typed(
    portal: FakePortal, wallet_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _stdin(monkeypatch, "")
    argv = ["approve", "--wallet", str(wallet_path), "--request", f"EIDAUTH1.{REF}"]
    assert app.main(argv) == 1
    assert "nothing was typed" in capsys.readouterr().err
    assert [method for method, *_ in portal.calls] == ["GET"]


def test_unknown_request_prints_the_portals_detail(
    portal: FakePortal, wallet_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    portal.status = "expired"
    argv = ["approve", "--wallet", str(wallet_path), "--request", f"EIDAUTH1.{REF}", "--number", "07"]
    assert app.main(argv) == 1
    assert capsys.readouterr().err.strip() == "The login request is unknown or has expired."

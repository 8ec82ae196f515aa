"""What the API takes: JSON only, bounded in size and nesting; every refusal is problem+json and
audited; no path under /api/ answers HTML, whatever the input (docs/security.md, "API input")."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from apps.api import parsers
from apps.audit.models import AuditEvent
from apps.commissions.models import Employee
from apps.identities.models import User
from apps.issuance import services
from apps.issuance.ca import IssuingCA
from apps.issuance.models import ActivationCode, MobileEID
from tests.issuance.support import device_csr, issue

URL = "/api/v1/eid/activations"
PROBLEM = "application/problem+json"


def _send(body: bytes | str, content_type: str, **headers: Any) -> Any:
    """POST `body` as it is, with this Content-Type (the test client would re-encode it)."""
    client = Client(raise_request_exception=False)
    return client.generic("POST", URL, body, content_type=content_type, **headers)


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == code and body["status"] == status, body
    assert body["type"].endswith("/" + code) and body["title"] and isinstance(body["detail"], str)
    return body


def _refusals() -> list[Any]:
    return [e.changes["error"][1] for e in
            AuditEvent.objects.filter(action="activation_code.redeem_failed").order_by("occurred_at")]


@pytest.fixture
def code_and_csr(nurse: tuple[User, Employee], issuing_ca: IssuingCA) -> tuple[Any, str]:
    return issue(nurse[0].person), device_csr()[1]


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    "[" * 1000 + "]" * 1000,  # found: RecursionError, HTTP 500 text/html
    '{"csr": ' * 1000 + '"x"' + "}" * 1000,
    '{"csr": "x", "device_name": ' + "[" * 33 + "]" * 33 + "}",
    "[" * 60_000,  # not even valid JSON: refused for its depth before it is decoded
])
def test_deep_nesting_is_refused_before_decoding(body: str) -> None:
    response = _send(body, "application/json")
    assert "nested too deeply" in _problem(response, 400, "too_deep")["detail"]
    assert _refusals() == ["too_deep"]


@pytest.mark.django_db
def test_nesting_at_the_limit_is_read() -> None:
    """32 levels are JSON like any other: the refusal is about the members, not the depth."""
    body = '{"csr": ' + "[" * (parsers.MAX_DEPTH - 1) + "]" * (parsers.MAX_DEPTH - 1) + "}"
    _problem(_send(body, "application/json"), 400, "invalid")


@pytest.mark.django_db
def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = json.dumps({"csr": "[{" * 5000, "device_name": '"\\[' * 10, "qr_payload": "x"})
    _problem(_send(body, "application/json"), 400, "code_invalid")


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "code"), [
    ('["' + '\\"[' * 20_000, "parse_error"),  # a string left open: its brackets do not count
    ('["' + '\\"[' * 20_000 + "\\", "parse_error"),
    ('["\\\\"' + "[" * 40, "too_deep"),  # an escaped backslash, then the string ends
])
def test_escapes_and_open_strings_are_scanned_like_the_decoder_reads_them(body: str,
                                                                            code: str) -> None:
    _problem(_send(body, "application/json"), 400, code)


@pytest.mark.django_db
@pytest.mark.parametrize("size", [int(2.6 * 1024 * 1024), parsers.MAX_BODY_BYTES + 1])
@pytest.mark.parametrize("content_type", ["application/json",
                                          "application/x-www-form-urlencoded"])
def test_a_large_body_is_413_problem_json(size: int, content_type: str) -> None:
    """Found: a 2.6 MB body answered 400 as an HTML page. JSON is refused by size (413) without
    being read whole; a form is refused for its media type (415) before it is read at all."""
    if content_type == "application/json":
        body = '{"csr": "' + "A" * (size - 11) + '"}'
        expected = (413, "body_too_large")
    else:
        body = "csr=" + "A" * (size - 4)
        expected = (415, "unsupported_media_type")
    assert len(body) == size
    _problem(_send(body, content_type), *expected)
    assert _refusals() == [expected[1]]


@pytest.mark.django_db
def test_a_body_at_the_limit_is_read() -> None:
    body = '{"csr": "' + "A" * (parsers.MAX_BODY_BYTES - 11) + '"}'
    assert len(body) == parsers.MAX_BODY_BYTES
    errors = _problem(_send(body, "application/json"), 400, "invalid")["errors"]
    assert list(errors) == ["csr"]  # longer than a CSR may be; the body itself was fine


@pytest.mark.django_db
@pytest.mark.parametrize("encode", ["form", "multipart"])
def test_a_form_body_with_a_valid_code_issues_nothing(code_and_csr: tuple[Any, str],
                                                      encode: str) -> None:
    """Found: a form-encoded or multipart body to the JSON endpoint was processed and issued a
    certificate. Now 415, audited; the code still works when sent as JSON."""
    issued, csr = code_and_csr
    fields = {"csr": csr, "qr_payload": issued.qr_payload, "device_name": "Form phone"}
    client = Client()
    if encode == "form":
        from urllib.parse import urlencode

        response = client.post(URL, urlencode(fields),
                               content_type="application/x-www-form-urlencoded")
    else:
        response = client.post(URL, fields)  # the test client's default: multipart/form-data
    _problem(response, 415, "unsupported_media_type")
    assert not MobileEID.objects.exists()
    assert ActivationCode.objects.get(pk=issued.code.pk).used_at is None
    assert _refusals() == ["unsupported_media_type"]
    assert client.post(URL, fields, content_type="application/json").status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", [
    "text/plain", "application/*", "*/*", "application/json-patch+json", "application/jsonx",
    "text/json", "application/xml", "",
])
def test_only_application_json_is_read(content_type: str) -> None:
    response = _send('{"csr": "x"}', content_type)
    _problem(response, 415, "unsupported_media_type")
    assert _refusals() == ["unsupported_media_type"]


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8",
                                          "APPLICATION/JSON", "application/json; charset=nope",
                                          "application/json; charset=latin-1"])
def test_json_is_always_utf8_and_a_charset_is_ignored(code_and_csr: tuple[Any, str],
                                                      content_type: str) -> None:
    """RFC 8259 section 11: JSON has no charset parameter; an unknown one is no error."""
    issued, csr = code_and_csr
    body = json.dumps({"csr": csr, "qr_payload": issued.qr_payload, "device_name": "Telefon ö"},
                      ensure_ascii=False).encode()
    response = _send(body, content_type)
    assert response.status_code == 201, response.content
    assert MobileEID.objects.get().device_name == "Telefon ö"


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    b'{"csr": "x", "device_name": "\\ud800", "qr_payload": "x"}',  # unpaired surrogates
    b'{"csr": "x", "person_number": "\\udfff19121212", "code": "AAAA-AAAA"}',
    b'{"csr": NaN}', b'{"csr": Infinity}',
    b'{"csr": "\xff\xfe"}',  # not UTF-8
    b"\xef\xbb\xbf{}",  # a byte order mark (RFC 8259 section 8.1: must not be added)
    b'{"csr": "x"', b"", b"null null",
])
def test_bodies_that_are_not_json_text(body: bytes) -> None:
    response = _send(body, "application/json")
    if body == b"":
        _problem(response, 400, "invalid")  # no body: the members are missing
    else:
        _problem(response, 400, "parse_error")
    assert len(_refusals()) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("body", [[], "text", 1, None, {"csr": None}, {"csr": ["x"]},
                                  {"csr": {"a": 1}}, {"csr": "x", "code": 12345678}])
def test_json_of_the_wrong_shape(body: Any) -> None:
    response = _send(json.dumps(body), "application/json")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert response.json()["code"] in {"invalid", "code_invalid"}
    assert len(_refusals()) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["text/html", "application/problem+json", "application/xml",
                                    "image/png;q=1, */*;q=0"])
def test_any_accept_header_gets_json(code_and_csr: tuple[Any, str], accept: str) -> None:
    """The API never answers 406: it sends JSON whatever `Accept` asks (RFC 9110 12.5.1)."""
    issued, csr = code_and_csr
    refused = _send("{}", "application/json", HTTP_ACCEPT=accept)
    _problem(refused, 400, "invalid")
    body = json.dumps({"csr": csr, "qr_payload": issued.qr_payload})
    created = _send(body, "application/json", HTTP_ACCEPT=accept)
    assert created.status_code == 201 and created["Content-Type"] == "application/json"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options", "head"])
def test_other_methods_are_405_problem_json(method: str) -> None:
    response = getattr(Client(), method)(URL)
    assert response.status_code == 405 and response["Content-Type"] == PROBLEM
    assert response["Allow"] == "POST"
    if method != "head":
        assert response.json()["code"] == "method_not_allowed"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/", "/api/x", "/api/v2/eid/activations", "/api/v1%ff/",
                                  "/api/%C0%AE%C0%AE/"])
def test_unknown_paths_under_api_are_404_problem_json(path: str) -> None:
    """Outside /api/v1/ no API route matches: Django's own 404 page becomes a problem."""
    for method in ("get", "post"):
        response = getattr(Client(), method)(path)
        _problem(response, 404, "not_found")


@pytest.mark.django_db
def test_a_refused_host_is_problem_json_under_api_and_a_page_elsewhere() -> None:
    """Django refuses a Host header outside ALLOWED_HOSTS before any view runs (400)."""
    api = Client().post(URL, "{}", content_type="application/json", HTTP_HOST="evil.example")
    _problem(api, 400, "bad_request")
    page = Client().get("/login/", HTTP_HOST="evil.example")
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_exception_is_problem_json(code_and_csr: tuple[Any, str], settings: Any,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 debug: bool) -> None:
    """The last resort: a bug (here: a service that raises) answers 500 problem+json with the
    request id, never Django's HTML error page (or, in debug, its technical page)."""
    settings.DEBUG = debug

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(services, "activation_code_redeem", broken)
    issued, csr = code_and_csr
    response = _send(json.dumps({"csr": csr, "qr_payload": issued.qr_payload}),
                     "application/json")
    body = _problem(response, 500, "server_error")
    assert "a bug" not in response.content.decode() and "Traceback" not in body["detail"]
    assert response["X-Request-ID"]
    assert int(response["Content-Length"]) == len(response.content)


@pytest.mark.django_db
def test_problem_title_is_the_status_phrase_and_detail_is_translated() -> None:
    response = _send("[" * 100, "application/json", HTTP_ACCEPT_LANGUAGE="sv")
    body = _problem(response, 400, "too_deep")
    assert body["title"] == "Bad Request"
    assert body["detail"] == "JSON-texten är för djupt nästlad: högst 32 nivåer."


@pytest.mark.django_db
def test_unknown_members_are_refused_and_not_echoed_into_the_audit_log(
        code_and_csr: tuple[Any, str]) -> None:
    """The API takes only what it documents: a member it does not know is an error (and a
    misspelt one does not pass silently)."""
    issued, csr = code_and_csr
    body = {"csr": csr, "qr_payload": issued.qr_payload, "devcie_name": "Typo phone",
            "Dr Evil was here": 1}
    errors = _problem(_send(json.dumps(body), "application/json"), 400, "invalid")["errors"]
    assert errors == {"Dr Evil was here": ["Unknown member."], "devcie_name": ["Unknown member."]}
    event = AuditEvent.objects.get(action="activation_code.redeem_failed")
    assert event.reason == "Request refused (invalid): unknown members."
    assert ActivationCode.objects.get(pk=issued.code.pk).used_at is None


@pytest.mark.django_db
def test_a_csr_is_ascii_pem_text(code_and_csr: tuple[Any, str]) -> None:
    issued, csr = code_and_csr
    body = {"csr": csr.replace("REQUEST", "REQUESТ"), "qr_payload": issued.qr_payload}  # Cyrillic Т
    errors = _problem(_send(json.dumps(body), "application/json"), 400, "invalid")["errors"]
    assert list(errors) == ["csr"]
    assert AuditEvent.objects.get(action="activation_code.redeem_failed").reason == (
        "Request refused (invalid): csr.")


@pytest.mark.django_db
@pytest.mark.parametrize("value", [5, True, ["a"], {"a": 1}, None])
def test_a_member_that_is_not_a_string_is_refused_not_turned_into_text(value: object) -> None:
    """Found: `{"csr": 5}` was taken as the text "5"."""
    response = Client().post("/api/v1/eid/activations", data=json.dumps(
        {"csr": value, "qr_payload": "EIDACT1." + "0" * 32 + ".x" * 11}),
        content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert "csr" in response.json()["errors"]

"""The test IdP's pages, called as the WSGI application `manage.py testidp` serves, with demo
people from the database."""

from __future__ import annotations

import html
import re
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client

from apps.commissions.models import Employee
from apps.identities.models import User
from apps.testidp.idp import LOA2, LOA3, TestIdP
from apps.testidp.web import TestIdPApp
from tests.testidp.conftest import ACS_URL, SLO_URL, authn_request, decoded, sp_client, sp_metadata


def call(app: TestIdPApp, method: str, path: str, query: str = "",
         form: dict[str, str] | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    body = urlencode(form or {}).encode()
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8001", "wsgi.url_scheme": "http", "wsgi.input": BytesIO(body),
        "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "HTTP_ACCEPT_LANGUAGE": "en",
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()},
    }
    answer: dict[str, Any] = {}

    def start_response(status: str, header_list: list[tuple[str, str]]) -> None:
        answer["status"], answer["headers"] = int(status.split()[0]), dict(header_list)

    content = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], content.decode()


def posted(page: str) -> str:
    """The SAMLResponse field of the auto-submitting page."""
    found = re.search(r'name="SAMLResponse" value="([^"]+)"', page)
    assert found, page
    return html.unescape(found.group(1))


@pytest.fixture
def web(key_dir: Path, sp_key_dir: Path) -> tuple[TestIdPApp, dict[str, Saml2Client]]:
    idps, clients = {}, {}
    for name in ("staff", "citizen"):
        client = sp_client(TestIdP(name, key_dir=key_dir), sp_key_dir)
        idps[name] = TestIdP(name, key_dir=key_dir, sp_metadata=sp_metadata(client))
        clients[name] = client
    return TestIdPApp(idps), clients


def login_page(app: TestIdPApp, client: Saml2Client, personality: str) -> tuple[str, str, str]:
    request_id, saml_request, relay_state = authn_request(client, app.idps[personality])
    status, headers, page = call(app, "GET", f"/{personality}/sso",
                                 urlencode({"SAMLRequest": saml_request, "RelayState": relay_state}))
    assert status == 200, page
    assert "form-action 'self'" in headers["Content-Security-Policy"]
    return request_id, saml_request, page


def test_staff_login_page_lists_employees_and_answers_with_a_post_form(web: Any, nurse: Any) -> None:
    app, clients = web
    _, employee = nurse
    request_id, saml_request, page = login_page(app, clients["staff"], "staff")
    assert "Nina Nurse" in page and employee.hsa_id in page
    assert '<html lang="en">' in page and "<script" not in page and "style=" not in page
    assert "Log in at level 2" in page
    status, headers, page = call(app, "POST", "/staff/login", form={
        "SAMLRequest": saml_request, "binding": "redirect", "RelayState": "/after-login",
        "person": str(employee.pk)})
    assert status == 200, page
    assert f'action="{ACS_URL}"' in page and '<script src="/static/testidp.js">' in page
    assert "http://localhost:8000" in headers["Content-Security-Policy"]
    assert 'name="RelayState" value="/after-login"' in page
    saml_response = posted(page)
    parsed = clients["staff"].parse_authn_request_response(saml_response, BINDING_HTTP_POST,
                                                           {request_id: "/"})
    assert parsed.authn_info()[0][0] == LOA3
    assert parsed.ava["givenName"] == ["Nina"]
    assert employee.hsa_id in decoded(saml_response)


def test_level_2_is_asserted_when_chosen(web: Any, patient: User) -> None:
    app, clients = web
    request_id, saml_request, page = login_page(app, clients["citizen"], "citizen")
    assert "Tolvan Tolvansson" in page and "19121212-1212" in page
    status, _, page = call(app, "POST", "/citizen/login", form={
        "SAMLRequest": saml_request, "binding": "redirect", "person": str(patient.person.pk), "level": "2"})
    assert status == 200
    saml_response = posted(page)
    assert LOA2 in decoded(saml_response) and "employeeHsaId" not in decoded(saml_response)


def test_staff_without_employee_hsa_id_are_not_offered(web: Any, patient: User, nurse: Any) -> None:
    app, clients = web
    _, _, page = login_page(app, clients["staff"], "staff")
    assert "Tolvansson" not in page and "Nina Nurse" in page
    assert Employee.objects.count() == 1


def test_no_choice_is_asked_again_and_bad_input_is_a_400(web: Any, patient: User) -> None:
    app, clients = web
    _, saml_request, _ = login_page(app, clients["citizen"], "citizen")
    status, _, page = call(app, "POST", "/citizen/login", form={"SAMLRequest": saml_request,
                                                                  "binding": "redirect", "person": "nobody"})
    assert status == 400 and "Choose the person to log in as." in page and 'role="alert"' in page
    status, _, page = call(app, "GET", "/citizen/sso", "SAMLRequest=garbage")
    assert status == 400 and "not a request the test IdP can answer" in page
    assert call(app, "GET", "/citizen/sso")[0] == 400
    assert call(app, "GET", "/nobody/sso")[0] == 404
    assert call(app, "GET", "/citizen/login")[0] == 405


def test_pages_follow_the_portal_language(web: Any, patient: User) -> None:
    app, clients = web
    _, saml_request, _ = login_page(app, clients["citizen"], "citizen")
    query = urlencode({"SAMLRequest": saml_request})
    status, _, page = call(app, "GET", "/citizen/sso", query, headers={"Accept-Language": "sv"})
    assert status == 200 and '<html lang="sv">' in page and "Logga in" in page
    status, _, page = call(app, "GET", "/citizen/sso", query,
                           headers={"Accept-Language": "sv", "Cookie": "django_language=en"})
    assert '<html lang="en">' in page


def test_metadata_static_files_and_index(web: Any) -> None:
    app, _ = web
    status, headers, body = call(app, "GET", "/staff/metadata")
    assert status == 200 and headers["Content-Type"] == "application/samlmetadata+xml"
    assert "Signature" in body and app.idps["staff"].entity_id in body
    assert call(app, "GET", "/static/testidp.js")[0] == 200
    assert call(app, "GET", "/static/../keys.py")[0] == 404
    status, _, page = call(app, "GET", "/")
    assert status == 200 and app.idps["citizen"].entity_id in page


def test_logout_answers_with_a_signed_logout_response(web: Any) -> None:
    app, clients = web
    idp, client = app.idps["staff"], clients["staff"]
    from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
    _, request = client.create_logout_request(
        idp.slo_url, idp.entity_id, name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text="abc"),
        reason="", expire=None)
    info = client.apply_binding(BINDING_HTTP_REDIRECT, str(request), idp.slo_url, "/bye")
    query = urlsplit(dict(info["headers"])["Location"]).query
    status, headers, _ = call(app, "GET", "/staff/slo", query)
    assert status == 303
    location = urlsplit(headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == SLO_URL
    answer = parse_qs(location.query)
    assert answer["RelayState"] == ["/bye"] and "Signature" in answer and "SigAlg" in answer
    response = client.parse_logout_request_response(answer["SAMLResponse"][0], BINDING_HTTP_REDIRECT)
    assert response.response.in_response_to == request.id
    assert response.response.status.status_code.value == "urn:oasis:names:tc:SAML:2.0:status:Success"


def test_a_portal_that_is_not_up_is_a_503(key_dir: Path) -> None:
    app = TestIdPApp({"staff": TestIdP("staff", key_dir=key_dir, sp_metadata_url="http://127.0.0.1:9/x")})
    status, _, page = call(app, "GET", "/staff/sso", "SAMLRequest=x")
    assert status == 503 and "not answering yet" in page
    assert call(app, "GET", "/staff/metadata")[0] == 200  # needs no SP

"""The API keeps to its published OpenAPI 3.1 schema (`/api/v1/schema`), tested by schemathesis.

schemathesis reads the schema the portal serves and sends what it describes and what it does
not (wrong types, missing members, other media types, other methods) to the Django application
in-process (WSGI), with all its checks: no server error, every status, media type, header and
body as documented. A bounded number of examples with a fixed seed keeps the run short and
repeatable; `transaction=True` lets each request commit as in production (on PostgreSQL in CI).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

from apps.commissions.models import Employee
from apps.core.actors import SYSTEM
from apps.federation import services_oidc
from apps.identities.models import User
from apps.issuance.ca import IssuingCA
from apps.issuance.models import ActivationCode, MobileEID
from tests.api.test_authzen import EVALUATE, client_token
from tests.federation.oidc_support import Registered, use_provider
from tests.issuance.support import device_csr, issue

SCHEMA_URL = "/api/v1/schema"
#: A request that matches the schema may still be refused for what it says (a wrong or used
#: code, a bad CSR; a login request that does not exist; no access token for a protected
#: resource, 401): the answers to well-formed requests.
WELL_FORMED_ANSWERS = ["200", "201", "400", "401", "403", "404", "409", "410"]
#: The answers to requests that do not match the schema (401: the bearer token its security
#: scheme asks for is left out).
MALFORMED_ANSWERS = ["400", "401", "405", "413", "415"]


def _load() -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({
        "seed": 20260101,
        "generation": {"max-examples": 100, "deterministic": True},
        "checks": {"positive_data_acceptance": {"expected-statuses": WELL_FORMED_ANSWERS},
                   "negative_data_rejection": {"expected-statuses": MALFORMED_ANSWERS}},
    })
    return schemathesis.openapi.from_wsgi(SCHEMA_URL, get_wsgi_application(), config=config)


# Read from the running application when the tests are collected (serving the schema needs no
# database).
schema = _load()


@pytest.fixture
def evaluate_token(nurse: tuple[User, Employee], settings: Any) -> str:
    """A client credentials token with the scope of the rules service's AuthZEN API, from the
    token endpoint."""
    use_provider(settings, "http://testserver")
    done = services_oidc.client_register(
        actor=SYSTEM, organisation=nurse[1].organisation, name="Record system",
        contact_name="Ella Example", contact_email="ella@example.invalid",
        client_type="confidential", grant_type="client-credentials", redirect_uris=[],
        post_logout_redirect_uris=[], allowed_scopes=[EVALUATE], allowed_claims=[],
        algorithm="ES256", first_party=True)
    services_oidc.client_approve(actor=SYSTEM, client=done.client)
    return client_token(Registered(done.client, done.secret))


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db(transaction=True)
def test_the_api_conforms_to_its_schema(case: schemathesis.Case, nurse: tuple[User, Employee],
                                        issuing_ca: IssuingCA, evaluate_token: str) -> None:
    """With a staff member who holds an open activation code and a working CA, so that
    generated requests meet real data; the AuthZEN endpoints are called with a token that may
    ask (without one every answer would be the same 401)."""
    if not ActivationCode.objects.exists():
        issue(nurse[0].person)
    if case.path.startswith("/access/"):
        case.call_and_validate(headers={"Authorization": f"Bearer {evaluate_token}"})
    else:
        case.call_and_validate()


@pytest.mark.django_db(transaction=True)
def test_a_real_activation_conforms_to_its_schema(nurse: tuple[User, Employee],
                                                  issuing_ca: IssuingCA) -> None:
    """Generated data cannot guess a code: this sends a real one through the same checks."""
    issued = issue(nurse[0].person)
    operation = _load()["/api/v1/eid/activations"]["POST"]
    case = operation.Case(body={"csr": device_csr()[1], "qr_payload": issued.qr_payload,
                                "device_name": "Schema phone"},
                          media_type="application/json")
    response = case.call_and_validate()
    assert response.status_code == 201
    assert MobileEID.objects.get().device_name == "Schema phone"


@pytest.mark.django_db
def test_the_schema_is_openapi_31_and_documents_every_refusal() -> None:
    from django.test import Client

    response = Client().get(SCHEMA_URL)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    operation = document["paths"]["/api/v1/eid/activations"]["post"]
    assert list(operation["requestBody"]["content"]) == ["application/json"]
    assert list(operation["responses"]["201"]["content"]) == ["application/json"]
    for status in ("400", "403", "409", "410", "413", "415", "503"):
        content = operation["responses"][status]["content"]
        assert list(content) == ["application/problem+json"], status
        assert content["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
    assert list(document["paths"]) == [
        "/.well-known/authzen-configuration", "/access/v1/evaluation", "/access/v1/evaluations",
        "/api/v1/eid/activations", "/api/v1/eid/auth-requests/{reference}",
        "/api/v1/eid/auth-requests/{reference}/approval",
        "/api/v1/eid/auth-requests/{reference}/denial", "/api/v1/oidc-demo/me"]
    for path in ("/access/v1/evaluation", "/access/v1/evaluations"):
        operation = document["paths"][path]["post"]
        assert operation["security"] == [{"accessToken": []}]
        for status in ("400", "401", "403", "405", "413", "415"):
            assert list(operation["responses"][status]["content"]) == [
                "application/problem+json"], (path, status)

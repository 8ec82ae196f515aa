"""A real pysaml2 service provider (Saml2Client, xmlsec1) beside the test IdP, and helpers that
verify signatures with xmlsec1 as a relying party would."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import AuthnContextClassRef
from saml2.samlp import RequestedAuthnContext
from saml2.sigver import CryptoBackendXmlSec1, SignatureError

from apps.testidp.idp import LOA3, AuthnRequestInfo, TestIdP
from apps.testidp.keys import ensure_keys, key_pair

PORTAL = "http://localhost:8000"
SP_ENTITY_ID = f"{PORTAL}/saml/metadata/"
ACS_URL = f"{PORTAL}/saml/acs/"
SLO_URL = f"{PORTAL}/saml/ls/"
XMLSEC1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
      "ds": "http://www.w3.org/2000/09/xmldsig#", "md": "urn:oasis:names:tc:SAML:2.0:metadata"}
TOLVAN_STAFF = {"personalIdentityNumber": "19121212-1212", "givenName": "Tolvan", "sn": "Tolvansson",
                "employeeHsaId": "SE2321000016-ABC1"}
TOLVAN = {key: value for key, value in TOLVAN_STAFF.items() if key != "employeeHsaId"}


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: Any) -> Path:
    path: Path = tmp_path_factory.mktemp("testidp-keys")
    ensure_keys(path)
    return path


@pytest.fixture(scope="session")
def sp_key_dir(tmp_path_factory: Any) -> Path:
    """A separate directory whose `staff` pair serves as the SP's own key."""
    path: Path = tmp_path_factory.mktemp("sp-keys")
    ensure_keys(path)
    return path


def sp_client(idp: TestIdP, sp_key_dir: Path) -> Saml2Client:
    """A minimal SP like the portal's: entityID, ACS (HTTP-POST) and SLO (HTTP-Redirect), wanting
    signed responses and assertions, trusting the IdP's (unsigned) metadata."""
    keys = key_pair(sp_key_dir, "staff")
    config = SPConfig()
    config.load({
        "entityid": SP_ENTITY_ID,
        "xmlsec_binary": XMLSEC1,
        "key_file": str(keys.key), "cert_file": str(keys.cert),
        "metadata": {"inline": [idp.metadata_xml(signed=False)]},
        "accepted_time_diff": 60,
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(ACS_URL, BINDING_HTTP_POST)],
                          "single_logout_service": [(SLO_URL, BINDING_HTTP_REDIRECT)]},
            "want_response_signed": True, "want_assertions_signed": True,
            "allow_unsolicited": False,
        }},
    })
    return Saml2Client(config=config)


def sp_metadata(client: Saml2Client) -> str:
    return str(entity_descriptor(client.config))


@pytest.fixture(params=["staff", "citizen"])
def personality(request: Any) -> str:
    return str(request.param)


@pytest.fixture
def pair(personality: str, key_dir: Path, sp_key_dir: Path) -> tuple[TestIdP, Saml2Client]:
    """The IdP of `personality` knowing the SP from its metadata, and the SP's client."""
    client = sp_client(TestIdP(personality, key_dir=key_dir), sp_key_dir)
    return TestIdP(personality, key_dir=key_dir, sp_metadata=sp_metadata(client)), client


@pytest.fixture
def staff(key_dir: Path, sp_key_dir: Path) -> tuple[TestIdP, Saml2Client]:
    client = sp_client(TestIdP("staff", key_dir=key_dir), sp_key_dir)
    return TestIdP("staff", key_dir=key_dir, sp_metadata=sp_metadata(client)), client


def authn_request(client: Saml2Client, idp: TestIdP, *, loa: str = LOA3,
                  force_authn: bool = False) -> tuple[str, str, str]:
    """An AuthnRequest by HTTP-Redirect: (request id, SAMLRequest as sent, RelayState)."""
    extra: dict[str, Any] = {"force_authn": "true"} if force_authn else {}
    request_id, info = client.prepare_for_authenticate(
        entityid=idp.entity_id, binding=BINDING_HTTP_REDIRECT, relay_state="/after-login",
        requested_authn_context=RequestedAuthnContext(
            authn_context_class_ref=[AuthnContextClassRef(text=loa)], comparison="minimum"),
        **extra)
    query = parse_qs(urlsplit(dict(info["headers"])["Location"]).query)
    return str(request_id), query["SAMLRequest"][0], query["RelayState"][0]


def parsed_request(client: Saml2Client, idp: TestIdP) -> AuthnRequestInfo:
    _, saml_request, _ = authn_request(client, idp)
    return idp.parse_authn_request(saml_request, "redirect")


def verifies(xml: str, cert: Path, node: str, node_id: str) -> bool:
    """True when xmlsec1 verifies the signature of element `node` ("Response", "Assertion",
    "EntityDescriptor") with ID `node_id` against the certificate `cert`, as an SP does."""
    namespace = {"Response": NS["samlp"], "Assertion": NS["saml"], "EntityDescriptor": NS["md"]}[node]
    try:
        return bool(CryptoBackendXmlSec1(XMLSEC1).validate_signature(
            xml, str(cert), "pem", f"{namespace}:{node}", node_id))
    except SignatureError:
        return False


def decoded(saml_response: str) -> str:
    return base64.b64decode(saml_response).decode()


def ids(xml: str, tag: str) -> list[str]:
    """The ID attributes of every `tag` element, in document order (a regex: parsing a hostile
    document is what these tests avoid)."""
    return re.findall(rf"<(?:[\w.-]+:)?{tag}\b[^>]*?\sID=\"([^\"]+)\"", xml)

"""The test IdP's metadata and responses, checked with xmlsec1 and a real pysaml2 SP; each hostile
variant is shown to be exactly what it says."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from defusedxml import DTDForbidden, EntitiesForbidden
from defusedxml.ElementTree import fromstring as safe_fromstring
from saml2 import BINDING_HTTP_POST
from saml2.client import Saml2Client

from apps.testidp.idp import ATTRIBUTES, INTRUDER, LOA2, LOA3, BadRequest, TestIdP
from apps.testidp.keys import key_pair
from tests.testidp.conftest import (
    ACS_URL,
    NS,
    SP_ENTITY_ID,
    TOLVAN,
    TOLVAN_STAFF,
    authn_request,
    decoded,
    ids,
    parsed_request,
    verifies,
)

Pair = tuple[TestIdP, Saml2Client]


def person_for(idp: TestIdP) -> dict[str, str]:
    return TOLVAN_STAFF if idp.personality == "staff" else TOLVAN


def tree(xml: str) -> ET.Element:
    return safe_fromstring(xml)


def signing_cert(idp: TestIdP) -> Path:
    return idp.keys.cert


# Metadata ------------------------------------------------------------------------------------

def test_metadata_is_signed_by_the_metadata_key_only(personality: str, key_dir: Path) -> None:
    idp = TestIdP(personality, key_dir=key_dir)
    xml = idp.metadata_xml()
    root = tree(xml)
    assert root.get("entityID") == f"http://127.0.0.1:8001/{personality}/metadata" == idp.entity_id
    assert verifies(xml, key_dir / "metadata-cert.pem", "EntityDescriptor", root.get("ID", ""))
    assert idp.metadata_cert_pem == (key_dir / "metadata-cert.pem").read_text()
    assert not verifies(xml, signing_cert(idp), "EntityDescriptor", root.get("ID", ""))
    tampered = xml.replace(f"/{personality}/sso", "/evil/sso")
    assert not verifies(tampered, key_dir / "metadata-cert.pem", "EntityDescriptor", root.get("ID", ""))


def test_metadata_publishes_the_signing_certificate_and_endpoints(personality: str, key_dir: Path) -> None:
    idp = TestIdP(personality, base_url="http://idp.test:9000/", key_dir=key_dir)
    root = tree(idp.metadata_xml())
    assert root.get("entityID") == f"http://idp.test:9000/{personality}/metadata"
    certificate = root.find(
        "md:IDPSSODescriptor/md:KeyDescriptor/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    assert certificate is not None and (certificate.text or "").strip() == idp.keys.cert_base64
    sso = {e.get("Binding"): e.get("Location") for e in root.iter(f"{{{NS['md']}}}SingleSignOnService")}
    assert set(sso.values()) == {f"http://idp.test:9000/{personality}/sso"} and len(sso) == 2
    slo = root.find("md:IDPSSODescriptor/md:SingleLogoutService", NS)
    assert slo is not None and slo.get("Location") == f"http://idp.test:9000/{personality}/slo"


def test_metadata_valid_until_and_unsigned_variant(key_dir: Path) -> None:
    idp = TestIdP("staff", key_dir=key_dir)
    until = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert tree(idp.metadata_xml(valid_until=until)).get("validUntil") == "2030-01-02T03:04:05Z"
    unsigned = tree(idp.metadata_xml(signed=False))
    assert unsigned.find("ds:Signature", NS) is None


def test_personalities_have_their_own_keys(key_dir: Path) -> None:
    staff, citizen = TestIdP("staff", key_dir=key_dir), TestIdP("citizen", key_dir=key_dir)
    assert staff.keys.cert_pem != citizen.keys.cert_pem
    assert staff.name_id("191212121212") != citizen.name_id("191212121212")
    with pytest.raises(ValueError):
        TestIdP("admin", key_dir=key_dir)


# Requests and a correct response ---------------------------------------------------------------

def test_parse_authn_request_reads_what_the_sp_asked(staff: Pair) -> None:
    idp, client = staff
    request_id, saml_request, _ = authn_request(client, idp, force_authn=True)
    info = idp.parse_authn_request(saml_request, "redirect")
    assert (info.id, info.sp_entity_id, info.acs_url) == (request_id, SP_ENTITY_ID, ACS_URL)
    assert info.force_authn is True
    assert info.requested_loas == (LOA3,)
    _, plain, _ = authn_request(client, idp)
    assert idp.parse_authn_request(plain, "redirect").force_authn is False


def test_an_unknown_acs_url_or_garbage_is_a_bad_request(staff: Pair) -> None:
    idp, client = staff
    _, info = client.prepare_for_authenticate(entityid=idp.entity_id,
                                              assertion_consumer_service_url="http://evil.test/acs")
    from urllib.parse import parse_qs, urlsplit
    query = parse_qs(urlsplit(dict(info["headers"])["Location"]).query)
    with pytest.raises(BadRequest):
        idp.parse_authn_request(query["SAMLRequest"][0], "redirect")
    with pytest.raises(BadRequest):
        idp.parse_authn_request("bm90IHNhbWw=", "redirect")
    with pytest.raises(BadRequest):
        idp.parse_authn_request("x", "artifact")


def test_a_response_to_a_real_request_verifies_at_the_sp(pair: Pair) -> None:
    idp, client = pair
    request_id, saml_request, _ = authn_request(client, idp)
    info = idp.parse_authn_request(saml_request, "redirect")
    answer = idp.response(info, person_for(idp))
    assert answer.acs_url == ACS_URL
    parsed = client.parse_authn_request_response(answer.saml_response, BINDING_HTTP_POST,
                                                 {request_id: "/"})
    assert parsed is not None
    assert parsed.authn_info()[0][0] == LOA3
    assert parsed.ava["personalIdentityNumber"] == ["191212121212"]
    assert parsed.ava["displayName"] == ["Tolvan Tolvansson"]
    name_id = parsed.name_id
    assert name_id.format == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    assert name_id.text == idp.name_id("191212121212") and "191212121212" not in name_id.text
    xml = decoded(answer.saml_response)
    names = {a.get("Name") for a in tree(xml).iter(f"{{{NS['saml']}}}Attribute")}
    assert names == {ATTRIBUTES[n] for n in idp.released_attributes}
    assert {a.get("NameFormat") for a in tree(xml).iter(f"{{{NS['saml']}}}Attribute")} == {
        "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"}


def test_the_name_id_is_stable_and_opaque(staff: Pair) -> None:
    idp, client = staff
    first = tree(idp.response(parsed_request(client, idp), TOLVAN_STAFF).xml)
    second = tree(idp.response(parsed_request(client, idp), TOLVAN_STAFF).xml)
    path = "saml:Assertion/saml:Subject/saml:NameID"
    assert first.findtext(path, namespaces=NS) == second.findtext(path, namespaces=NS)
    other = dict(TOLVAN_STAFF, personalIdentityNumber="191212122323")
    other_id = tree(idp.response(None, other).xml).findtext(path, namespaces=NS)
    assert other_id != first.findtext(path, namespaces=NS)


def test_the_citizen_idp_releases_no_employee_hsa_id(key_dir: Path) -> None:
    with pytest.raises(ValueError, match="employeeHsaId"):
        TestIdP("citizen", key_dir=key_dir, sp_metadata="<x/>")._attributes(TOLVAN_STAFF)
    with pytest.raises(ValueError, match="Unknown"):
        TestIdP("staff", key_dir=key_dir)._attributes({**TOLVAN, "mail": "x@example.invalid"})


# Hostile variants ------------------------------------------------------------------------------

def parts(xml: str) -> tuple[ET.Element, ET.Element]:
    root = tree(xml)
    assertion = root.find("saml:Assertion", NS)
    assert assertion is not None
    return root, assertion


def test_default_response_has_both_signatures_by_the_metadata_key(staff: Pair) -> None:
    idp, client = staff
    xml = idp.response(parsed_request(client, idp), TOLVAN_STAFF).xml
    root, assertion = parts(xml)
    assert root.find("ds:Signature", NS) is not None and assertion.find("ds:Signature", NS) is not None
    assert verifies(xml, signing_cert(idp), "Response", root.get("ID", ""))
    assert verifies(xml, signing_cert(idp), "Assertion", assertion.get("ID", ""))


@pytest.mark.parametrize("sign_response", [True, False])
def test_assertion_unsigned(staff: Pair, sign_response: bool) -> None:
    idp, client = staff
    xml = idp.response(parsed_request(client, idp), TOLVAN_STAFF, sign_assertion=False,
                       sign_response=sign_response).xml
    root, assertion = parts(xml)
    assert assertion.find("ds:Signature", NS) is None
    assert (root.find("ds:Signature", NS) is not None) is sign_response
    if sign_response:
        assert verifies(xml, signing_cert(idp), "Response", root.get("ID", ""))


def test_nothing_signed_is_refused_by_the_sp(staff: Pair) -> None:
    idp, client = staff
    request_id, saml_request, _ = authn_request(client, idp)
    answer = idp.response(idp.parse_authn_request(saml_request, "redirect"), TOLVAN_STAFF,
                          sign_assertion=False, sign_response=False)
    assert "Signature" not in answer.xml
    with pytest.raises(Exception):  # noqa: B017 (pysaml2 raises its own kinds)
        client.parse_authn_request_response(answer.saml_response, BINDING_HTTP_POST, {request_id: "/"})


def test_foreign_key_signatures_verify_only_with_the_certificate_in_key_info(staff: Pair,
                                                                             key_dir: Path) -> None:
    idp, client = staff
    xml = idp.response(parsed_request(client, idp), TOLVAN_STAFF, foreign_key=True).xml
    root, assertion = parts(xml)
    untrusted = key_pair(key_dir, "untrusted")
    for node, element in (("Response", root), ("Assertion", assertion)):
        key_info = element.findtext("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS)
        assert (key_info or "").strip() == untrusted.cert_base64 != idp.keys.cert_base64
        assert verifies(xml, untrusted.cert, node, element.get("ID", ""))
        assert not verifies(xml, signing_cert(idp), node, element.get("ID", ""))
    assert untrusted.cert_base64 not in idp.metadata_xml()


def test_wrong_audience_recipient_and_destination(staff: Pair) -> None:
    idp, client = staff
    xml = idp.response(parsed_request(client, idp), TOLVAN_STAFF, audience="http://other.test/sp",
                       recipient="http://other.test/acs", destination="http://other.test/dest").xml
    root, assertion = parts(xml)
    assert assertion.findtext("saml:Conditions/saml:AudienceRestriction/saml:Audience",
                              namespaces=NS) == "http://other.test/sp"
    data = assertion.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
    assert data is not None and data.get("Recipient") == "http://other.test/acs"
    assert root.get("Destination") == "http://other.test/dest"
    assert verifies(xml, signing_cert(idp), "Assertion", assertion.get("ID", ""))


def test_each_of_audience_and_recipient_alone(staff: Pair) -> None:
    idp, client = staff
    request = parsed_request(client, idp)
    _, assertion = parts(idp.response(request, TOLVAN_STAFF, recipient="http://x.test/").xml)
    audience = assertion.findtext("saml:Conditions/saml:AudienceRestriction/saml:Audience", namespaces=NS)
    assert audience == SP_ENTITY_ID
    root, assertion = parts(idp.response(request, TOLVAN_STAFF, audience="http://x.test/").xml)
    data = assertion.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
    assert data is not None and data.get("Recipient") == ACS_URL == root.get("Destination")


@pytest.mark.parametrize("value", ["_another-request", None])
def test_wrong_or_missing_in_response_to(staff: Pair, value: str | None) -> None:
    idp, client = staff
    request_id, saml_request, _ = authn_request(client, idp)
    answer = idp.response(idp.parse_authn_request(saml_request, "redirect"), TOLVAN_STAFF,
                          in_response_to=value)
    root, assertion = parts(answer.xml)
    data = assertion.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
    assert data is not None
    assert root.get("InResponseTo") == data.get("InResponseTo") == value
    with pytest.raises(Exception):  # noqa: B017 (pysaml2 raises its own kinds)
        client.parse_authn_request_response(answer.saml_response, BINDING_HTTP_POST, {request_id: "/"})


def test_unsolicited_response_has_no_in_response_to(staff: Pair) -> None:
    idp, _ = staff
    answer = idp.response(None, TOLVAN_STAFF)
    root, _ = parts(answer.xml)
    assert root.get("InResponseTo") is None and "InResponseTo" not in answer.xml
    assert answer.acs_url == ACS_URL


def _times(xml: str) -> tuple[dt.datetime, dt.datetime, ET.Element]:
    _, assertion = parts(xml)
    conditions = assertion.find("saml:Conditions", NS)
    assert conditions is not None

    def when(value: str | None) -> dt.datetime:
        return dt.datetime.strptime(value or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)

    return when(conditions.get("NotBefore")), when(conditions.get("NotOnOrAfter")), assertion


def test_expired_and_not_yet_valid(staff: Pair) -> None:
    idp, client = staff
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    before, after, assertion = _times(idp.response(parsed_request(client, idp), TOLVAN_STAFF, now=now).xml)
    assert before <= now < after
    before, after, assertion = _times(idp.response(parsed_request(client, idp), TOLVAN_STAFF,
                                                   expired=True, now=now).xml)
    assert after < now
    data = assertion.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
    conditions = assertion.find("saml:Conditions", NS)
    assert data is not None and conditions is not None
    assert data.get("NotOnOrAfter") == conditions.get("NotOnOrAfter")
    before, after, assertion = _times(idp.response(parsed_request(client, idp), TOLVAN_STAFF,
                                                   not_yet_valid=True, now=now).xml)
    assert before > now


def test_the_sp_refuses_an_expired_response(staff: Pair) -> None:
    idp, client = staff
    request_id, saml_request, _ = authn_request(client, idp)
    answer = idp.response(idp.parse_authn_request(saml_request, "redirect"), TOLVAN_STAFF, expired=True)
    with pytest.raises(Exception):  # noqa: B017 (pysaml2 raises its own kinds)
        client.parse_authn_request_response(answer.saml_response, BINDING_HTTP_POST, {request_id: "/"})


@pytest.mark.parametrize("where", ["before", "after"])
def test_signature_wrapping(staff: Pair, where: str) -> None:
    idp, client = staff
    xml = idp.response(parsed_request(client, idp), TOLVAN_STAFF, wrapping=where).xml  # type: ignore[arg-type]
    root = tree(xml)
    assertions = root.findall("saml:Assertion", NS)
    assert len(assertions) == 2
    signed = [a for a in assertions if a.find("ds:Signature", NS) is not None]
    unsigned = [a for a in assertions if a.find("ds:Signature", NS) is None]
    assert len(signed) == len(unsigned) == 1
    assert (assertions[0] is unsigned[0]) is (where == "before")
    assert root.find("ds:Signature", NS) is None  # the response itself is unsigned
    assert verifies(xml, signing_cert(idp), "Assertion", signed[0].get("ID", ""))

    def pnr(assertion: ET.Element) -> str:
        for attribute in assertion.iter(f"{{{NS['saml']}}}Attribute"):
            if attribute.get("Name") == ATTRIBUTES["personalIdentityNumber"]:
                return attribute.findtext("saml:AttributeValue", namespaces=NS) or ""
        return ""

    assert pnr(signed[0]) == "191212121212"
    assert pnr(unsigned[0]) == INTRUDER["personalIdentityNumber"]
    assert signed[0].findtext("saml:Subject/saml:NameID", namespaces=NS) != unsigned[0].findtext(
        "saml:Subject/saml:NameID", namespaces=NS)


def test_signature_wrapping_with_a_signed_response_breaks_its_signature(staff: Pair) -> None:
    idp, client = staff
    xml = idp.response(parsed_request(client, idp), TOLVAN_STAFF, wrapping="before", sign_response=True).xml
    root = tree(xml)
    assert root.find("ds:Signature", NS) is not None
    assert not verifies(xml, signing_cert(idp), "Response", root.get("ID", ""))


def test_doctype_with_an_external_entity(staff: Pair) -> None:
    idp, client = staff
    xml = idp.response(parsed_request(client, idp), TOLVAN_STAFF, doctype="external_entity").xml
    assert '<!ENTITY xxe SYSTEM "file:///etc/hostname">' in xml
    assert xml.index("<!DOCTYPE") < xml.index("Response")
    assert "&xxe;</" in xml and "StatusMessage>&xxe;<" in xml
    with pytest.raises((EntitiesForbidden, DTDForbidden)):
        safe_fromstring(xml)
    # The assertion inside is a correctly signed one: only the DTD is hostile.
    expanded = xml.split("]>", 1)[1].replace("&xxe;", "localhost")
    assert verifies(expanded, signing_cert(idp), "Assertion", ids(xml, "Assertion")[0])


def test_doctype_with_entity_expansion(staff: Pair) -> None:
    idp, client = staff
    xml = idp.response(parsed_request(client, idp), TOLVAN_STAFF, doctype="billion_laughs").xml
    head = xml[:xml.index("]>")]
    assert head.count("<!ENTITY") == 10
    assert '<!ENTITY lol9 "' + "&lol8;" * 10 + '">' in head
    assert "StatusMessage>&lol9;<" in xml
    with pytest.raises(EntitiesForbidden):
        safe_fromstring(xml)


def test_weaker_level(pair: Pair) -> None:
    idp, client = pair
    request_id, saml_request, _ = authn_request(client, idp)
    answer = idp.response(idp.parse_authn_request(saml_request, "redirect"), person_for(idp), loa=LOA2)
    _, assertion = parts(answer.xml)
    assert assertion.findtext("saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef",
                              namespaces=NS) == LOA2
    parsed = client.parse_authn_request_response(answer.saml_response, BINDING_HTTP_POST, {request_id: "/"})
    assert parsed.authn_info()[0][0] == LOA2  # pysaml2 does not compare levels: the portal must


def test_a_replay_is_the_same_response_sent_again(staff: Pair) -> None:
    idp, client = staff
    answer = idp.response(parsed_request(client, idp), TOLVAN_STAFF)
    assert answer.post_data("/x") == {"SAMLResponse": answer.saml_response, "RelayState": "/x"}


def test_sp_metadata_is_fetched_again_until_the_portal_answers(key_dir: Path, staff: Pair,
                                                               monkeypatch: Any) -> None:
    from apps.testidp import idp as module
    from apps.testidp.idp import SPMetadataUnavailable
    from tests.testidp.conftest import sp_metadata

    served: list[str] = []

    class Answer:
        def __init__(self, text: str) -> None:
            self.text = text

        def __enter__(self) -> Answer:
            return self

        def __exit__(self, *args: Any) -> None:
            return None

        def read(self, limit: int) -> bytes:
            return self.text.encode()

    def urlopen(url: str, timeout: float) -> Answer:
        served.append(url)
        if len(served) == 1:
            raise OSError("connection refused")
        return Answer(sp_metadata(staff[1]))

    monkeypatch.setattr(module.urllib.request, "urlopen", urlopen)
    idp = TestIdP("staff", key_dir=key_dir, sp_metadata_url="http://localhost:8000/saml/metadata/")
    with pytest.raises(SPMetadataUnavailable, match="is it running"):
        idp.sp_entity_id  # noqa: B018
    assert idp.sp_entity_id == SP_ENTITY_ID
    assert served == ["http://localhost:8000/saml/metadata/"] * 2

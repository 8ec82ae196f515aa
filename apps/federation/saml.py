"""The portal as a SAML2 service provider: pysaml2's configuration, AuthnRequests and the checks
of a response (SAML 2.0 core and profiles, OASIS saml-core-2.0-os / saml-profiles-2.0-os).

djangosaml2 loads the configuration (`djangosaml2.conf.get_config` with `SAML_CONFIG_LOADER`
pointing at `config_loader`) and serves the SP metadata; the login, assertion consumer and
completion views are the portal's, because the session cookie stays `SameSite=Lax` and a
step-up must land in the session that asked for it (docs/decisions.md, "Federated login").

Every response is checked by pysaml2 with the SP configured strictly (`sp_settings`): the
assertion must be signed (`want_assertions_signed`) by a key of the IdP's trusted metadata only
(`only_use_keys_in_metadata`; a key sent in `KeyInfo` is not trusted), for our audience and
our assertion consumer URL (Recipient), in response to a request we sent (`InResponseTo`;
`allow_unsolicited` off) and within its time window with at most `SAML_CLOCK_SKEW_SECONDS` of clock
skew (`accepted_time_diff`). The portal adds: the bearer confirmation's Recipient and the
response's Destination must be our assertion consumer URL (pysaml2 does not compare Recipient),
the response's XML may carry no DTD (so no external entities and no entity expansion, as
defusedxml refuses them), exactly one assertion (a second,
unsigned one beside the signed one is XML signature wrapping), the issuer must be the IdP the
request went to, a persistent NameID, and a known level of assurance not weaker than requested.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import copy
import datetime as dt
import functools
import os
from dataclasses import dataclass, field
from typing import Any

import saml2
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from saml2 import s_utils, sigver, time_util
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.saml import NAMEID_FORMAT_PERSISTENT, AuthnContextClassRef
from saml2.samlp import RequestedAuthnContext
from saml2.sigver import SignatureError

from apps.core import loa as levels

NS_DS = "http://www.w3.org/2000/09/xmldsig#"
#: Signature and digest algorithms accepted in responses and announced in the SP metadata
#: (RSA and ECDSA with SHA-2 of 256 bits or more; NIST SP 800-131A rev. 2: SHA-1 is not
#: acceptable for signature generation, and the portal does not accept it from others either).
STRONG_ALGORITHMS = frozenset({
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
})
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
#: A response larger than this (bytes of base64) is refused before it is parsed.
MAX_RESPONSE_BYTES = 256 * 1024
#: The longest NameID kept (characters; `FederatedIdentity.subject`). A longer one is refused, not
#: cut: two NameIDs sharing their first characters would otherwise be one identity.
MAX_NAME_ID = 1024


class Refused(Exception):
    """A response the portal does not accept; `code` names why (`saml.<reason>`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@functools.lru_cache(maxsize=8)
def _private_key(path: str, mtime_ns: int, size: int) -> Any:
    """The SP's private key read from `path` (PEM) as pysaml2 reads it; one load per file version
    (modification time and size in the key), as loading checks the RSA key (about 0.1 s for a
    3072-bit key) and pysaml2 would load it twice for every client it builds."""
    del mtime_ns, size  # part of the cache key: a replaced key file is read again
    return _import_rsa_key_from_file(path)


def _cached_import_rsa_key_from_file(filename: str) -> Any:
    """pysaml2's `import_rsa_key_from_file`, through `_private_key`."""
    stat = os.stat(filename)
    return _private_key(filename, stat.st_mtime_ns, stat.st_size)


_import_rsa_key_from_file = sigver.import_rsa_key_from_file


def install_key_cache() -> None:
    """Make pysaml2 read private keys through `_private_key` (called once, at start-up, by the
    app's `ready`): its security context reads the key through the module-level name
    `saml2.sigver.import_rsa_key_from_file`."""
    sigver.import_rsa_key_from_file = _cached_import_rsa_key_from_file


def _url(name: str) -> str:
    return settings.PORTAL_BASE_URL + reverse(name)


def sp_settings(metadata_xml: list[str] | None = None) -> dict[str, Any]:
    """The pysaml2 configuration of the portal's SP, trusting the IdPs whose metadata (XML text,
    already checked by `apps.federation.metadata`) is given."""
    conf: dict[str, Any] = {
        "entityid": settings.SAML_SP_ENTITY_ID,
        "xmlsec_binary": settings.SAML_XMLSEC_BINARY,
        "key_file": str(settings.SAML_SP_KEY_FILE),
        "cert_file": str(settings.SAML_SP_CERT_FILE),
        "encryption_keypairs": [{"key_file": str(settings.SAML_SP_KEY_FILE),
                                 "cert_file": str(settings.SAML_SP_CERT_FILE)}],
        "allow_unknown_attributes": True,
        "accepted_time_diff": settings.SAML_CLOCK_SKEW_SECONDS,
        "delete_tmpfiles": True,
        "service": {"sp": {
            "name": "Portal",
            "endpoints": {
                "assertion_consumer_service": [(_url("federation:acs"), saml2.BINDING_HTTP_POST)],
                "single_logout_service": [(_url("federation:ls"), saml2.BINDING_HTTP_REDIRECT)],
            },
            "allow_unsolicited": False,
            "authn_requests_signed": True,
            "logout_requests_signed": True,
            "logout_responses_signed": True,
            "want_assertions_signed": True,
            "want_response_signed": False,
            "want_assertions_or_response_signed": True,
            "only_use_keys_in_metadata": True,
            "name_id_format": NAMEID_FORMAT_PERSISTENT,
            "name_id_format_allow_create": True,
            "signing_algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "digest_algorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
        }},
    }
    if metadata_xml:
        conf["metadata"] = {"inline": list(metadata_xml)}
    return conf


def config_loader(request: HttpRequest | None = None) -> SPConfig:
    """djangosaml2's `SAML_CONFIG_LOADER`: the SP's own configuration (no IdP), for its metadata."""
    conf = SPConfig()
    conf.load(copy.deepcopy(sp_settings()))
    return conf


def client_for(metadata_xml: str) -> Saml2Client:
    """A pysaml2 client that trusts exactly one IdP: the one whose checked metadata is given."""
    conf = SPConfig()
    conf.load(sp_settings([metadata_xml]))
    return Saml2Client(conf)


@dataclass(frozen=True)
class OutgoingRequest:
    """An AuthnRequest ready to send: its `request_id` and the IdP URL to redirect the browser to
    (HTTP-Redirect binding, signed query string, SAML 2.0 bindings 3.4.4.1)."""

    request_id: str
    location: str


def authn_request(metadata_xml: str, idp_entity_id: str, *, force_authn: bool,
                  requested_loa: str | None) -> OutgoingRequest:
    """Build a signed AuthnRequest to `idp_entity_id`. With `force_authn` the IdP must
    authenticate the person anew (SAML 2.0 core 3.4.1); `requested_loa` (a framework URI) is sent as
    a RequestedAuthnContext with comparison `minimum`. Raises Refused (`saml.idp_unusable`) when the
    IdP's metadata offers no HTTP-Redirect single sign-on endpoint."""
    client = client_for(metadata_xml)
    kwargs: dict[str, Any] = {}
    if force_authn:
        kwargs["force_authn"] = "true"
    if requested_loa:
        kwargs["requested_authn_context"] = RequestedAuthnContext(
            authn_context_class_ref=[AuthnContextClassRef(text=requested_loa)],
            comparison="minimum")
    try:
        request_id, info = client.prepare_for_authenticate(
            entityid=idp_entity_id, relay_state="", binding=saml2.BINDING_HTTP_REDIRECT,
            sign=True, **kwargs)
    except Exception as exc:  # pysaml2 raises plain Exceptions for a missing endpoint
        raise Refused("saml.idp_unusable") from exc
    location = dict(info["headers"])["Location"]
    return OutgoingRequest(request_id=str(request_id), location=location)


def decode(saml_response: str) -> bytes:
    """The XML of an HTTP-POST `SAMLResponse` (base64, SAML 2.0 bindings 3.5.4). Raises Refused
    (`saml.malformed`) for anything that is not base64 or too large."""
    if not saml_response or len(saml_response) > MAX_RESPONSE_BYTES:
        raise Refused("saml.malformed")
    try:
        return base64.b64decode(saml_response.encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise Refused("saml.malformed") from exc


@dataclass(frozen=True)
class Envelope:
    """What the portal reads from a response before verifying it: the request it answers and the
    issuer it names (both unverified until `verify`)."""

    in_response_to: str
    issuer: str


def envelope(xml: bytes) -> Envelope:
    """Read InResponseTo and Issuer of a response, refusing what must never be parsed further:
    a DTD or entity declarations (`saml.malformed`: XXE and entity expansion, as defusedxml
    refuses them), a document that is not a Response (`saml.malformed`), no InResponseTo
    (`saml.unsolicited`: the portal never accepts unsolicited responses) or more than one
    assertion (`saml.wrapped`: XML signature wrapping), or a signature or digest algorithm outside
    STRONG_ALGORITHMS (`saml.weak_algorithm`: SHA-1, MD5)."""
    try:
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SyntaxError, ValueError) as exc:
        raise Refused("saml.malformed") from exc
    if root.tag != f"{{{NS_SAMLP}}}Response":
        raise Refused("saml.malformed")
    assertions = [el for el in root.iter() if el.tag in (
        f"{{{NS_SAML}}}Assertion", f"{{{NS_SAML}}}EncryptedAssertion")]
    if len(assertions) != 1:
        raise Refused("saml.wrapped")
    for element in root.iter():
        if element.tag in (f"{{{NS_DS}}}SignatureMethod", f"{{{NS_DS}}}DigestMethod") and (
                element.get("Algorithm") not in STRONG_ALGORITHMS):
            raise Refused("saml.weak_algorithm")
    in_response_to = root.get("InResponseTo") or ""
    if not in_response_to:
        raise Refused("saml.unsolicited")
    issuer = root.find(f"{{{NS_SAML}}}Issuer")
    return Envelope(in_response_to=in_response_to,
                    issuer=(issuer.text or "").strip() if issuer is not None else "")


def _require_fresh(statements: list[Any], not_before: dt.datetime) -> None:
    """Raise Refused (`saml.not_fresh`) unless every AuthnStatement has an AuthnInstant at or after
    `not_before` less `SAML_CLOCK_SKEW_SECONDS` (see `verify`)."""
    earliest = not_before - dt.timedelta(seconds=settings.SAML_CLOCK_SKEW_SECONDS)
    if not statements:
        raise Refused("saml.not_fresh")
    for statement in statements:
        try:
            instant = dt.datetime.fromtimestamp(
                calendar.timegm(time_util.str_to_time(statement.authn_instant)), dt.UTC)
        except (TypeError, ValueError, AttributeError) as exc:
            raise Refused("saml.not_fresh") from exc
        if instant < earliest:
            raise Refused("saml.not_fresh")


@dataclass(frozen=True)
class Verified:
    """A verified assertion: `name_id` (persistent NameID value), `name_id_xml` (the NameID element
    for logout), `session_index`, `loa` (framework URI), `attributes` (name → values),
    `assertion_id` and `keep_until` (UTC: NotOnOrAfter plus the allowed skew)."""

    issuer: str
    name_id: str
    name_id_xml: str
    session_index: str
    loa: str
    assertion_id: str
    keep_until: dt.datetime
    attributes: dict[str, list[str]] = field(default_factory=dict)


def verify(saml_response: str, *, metadata_xml: str, idp_entity_id: str, request_id: str,
           requested_loa: str | None, authn_not_before: dt.datetime | None = None) -> Verified:
    """Verify an HTTP-POST response to our request `request_id` from `idp_entity_id` (whose checked
    metadata is `metadata_xml`). Raises Refused with: `saml.signature` (no valid signature by a
    metadata key on the assertion), `saml.invalid` (audience, recipient, time window, status or any
    other rule pysaml2 checks), `saml.issuer`, `saml.name_id` (none, not persistent, or longer than
    `MAX_NAME_ID`), `saml.loa_unknown`, `saml.loa_weaker` (the level answered is below
    `requested_loa`) and `saml.not_fresh`: with `authn_not_before` (UTC; the time a ForceAuthn
    request was sent), an AuthnStatement whose AuthnInstant is earlier than it, less the allowed
    skew, or missing. ForceAuthn only asks the IdP to authenticate anew (SAML 2.0 core 3.4.1); an
    older AuthnInstant means it answered from an earlier login, which proves nothing now (the
    Deployment Profile for the Swedish eID Framework, ELN-0602, 5.4.5 and 6.3, asks the SP to
    process the AuthnStatement's instant against its own requirements)."""
    client = client_for(metadata_xml)
    try:
        response = client.parse_authn_request_response(
            saml_response, saml2.BINDING_HTTP_POST, outstanding={request_id: "/"})
    except SignatureError as exc:
        raise Refused("saml.signature") from exc
    except Exception as exc:  # pysaml2 raises many types; every one is a refusal
        name = type(exc).__name__
        raise Refused("saml.signature" if "Signature" in name or "Key" in name
                      else "saml.invalid") from exc
    if response is None or response.assertion is None:
        raise Refused("saml.invalid")
    assertion = response.assertion
    issuer = (assertion.issuer.text or "").strip() if assertion.issuer else ""
    if issuer != idp_entity_id or (response.response.issuer is not None
                                   and (response.response.issuer.text or "").strip() != issuer):
        raise Refused("saml.issuer")
    if response.response.in_response_to != request_id:
        raise Refused("saml.invalid")
    name_id = assertion.subject.name_id if assertion.subject else None
    if name_id is None or not (name_id.text or "").strip() or (
            name_id.format and name_id.format != NAMEID_FORMAT_PERSISTENT) or (
            len(name_id.text.strip()) > MAX_NAME_ID):
        raise Refused("saml.name_id")
    contexts = [ref for ref, *_rest in response.authn_info()]
    answered = levels.canonical(contexts[0] if len(contexts) == 1 else None)
    if answered is None:
        raise Refused("saml.loa_unknown")
    if requested_loa and not levels.satisfies(answered, requested_loa):
        raise Refused("saml.loa_weaker")
    # SAML 2.0 profiles 4.1.4.3: the bearer SubjectConfirmationData names our assertion consumer
    # as Recipient and carries NotOnOrAfter; bindings 3.5.5.2: a Destination must be ours too.
    acs = _url("federation:acs")
    destination = response.response.destination
    if destination is not None and destination != acs:
        raise Refused("saml.invalid")
    not_on_or_after = None
    for confirmation in assertion.subject.subject_confirmation:
        data = confirmation.subject_confirmation_data
        if confirmation.method != "urn:oasis:names:tc:SAML:2.0:cm:bearer" or data is None:
            continue
        if data.recipient != acs or not data.not_on_or_after:
            raise Refused("saml.invalid")
        not_on_or_after = time_util.str_to_time(data.not_on_or_after)
    if not_on_or_after is None:
        raise Refused("saml.invalid")
    keep_until = dt.datetime.fromtimestamp(calendar.timegm(not_on_or_after), dt.UTC) + dt.timedelta(
        seconds=settings.SAML_CLOCK_SKEW_SECONDS)
    attributes: dict[str, list[str]] = {}
    for statement in assertion.attribute_statement:
        for attribute in statement.attribute:
            attributes.setdefault(attribute.name, []).extend(
                str(value.text or "") for value in attribute.attribute_value)
    session_index = ""
    for statement in assertion.authn_statement:
        session_index = statement.session_index or session_index
    if authn_not_before is not None:
        _require_fresh(assertion.authn_statement, authn_not_before)
    return Verified(issuer=issuer, name_id=name_id.text.strip(), name_id_xml=str(name_id),
                    session_index=session_index or "", loa=answered, assertion_id=assertion.id,
                    keep_until=keep_until, attributes=attributes)


def logout_request(metadata_xml: str, *, saml_request: str, relay_state: str, sigalg: str,
                   signature: str) -> tuple[Saml2Client, Any]:
    """Read an IdP's LogoutRequest that arrived by HTTP-Redirect. Its query-string signature
    (SAML 2.0 bindings 3.4.4.1) by a key of the IdP's checked metadata is required: profiles
    4.4.4.1 asks the requester to authenticate the message, and an unsigned one could log
    anyone out. Returns the client (for the answer) and the `LogoutRequest`. Raises Refused
    (`saml.logout`) for anything else."""
    if not (saml_request and sigalg and signature):
        raise Refused("saml.logout")
    client = client_for(metadata_xml)
    client.config.setattr("idp", "want_authn_requests_signed", True)  # makes pysaml2 verify it
    try:
        parsed = client.parse_logout_request(saml_request, saml2.BINDING_HTTP_REDIRECT,
                                             relay_state=relay_state or None, sigalg=sigalg,
                                             signature=signature)
    except Exception as exc:  # pysaml2 raises many types; every one is a refusal
        raise Refused("saml.logout") from exc
    if parsed is None or parsed.message is None:
        raise Refused("saml.logout")
    return client, parsed.message


def logout_answer(client: Saml2Client, message: Any, *, relay_state: str, done: bool) -> str:
    """The URL that carries our signed LogoutResponse to `message` back to the IdP
    (HTTP-Redirect, RSA-SHA256): Success when `done`, else UnknownPrincipal (SAML 2.0 core
    3.7.3.2: the session named is not one we know)."""
    from saml2.s_utils import status_message_factory, success_status_factory
    from saml2.samlp import STATUS_UNKNOWN_PRINCIPAL

    status = success_status_factory() if done else status_message_factory(
        "Unknown principal", STATUS_UNKNOWN_PRINCIPAL)
    response = client.create_logout_response(message, [saml2.BINDING_HTTP_REDIRECT],
                                             status=status, sign=False)
    args = client.response_args(message, [saml2.BINDING_HTTP_REDIRECT])
    info: Any = client.apply_binding(saml2.BINDING_HTTP_REDIRECT, str(response),
                                     args["destination"], relay_state, response=True, sign=True,
                                     sigalg=saml2.xmldsig.SIG_RSA_SHA256)
    return str(dict(info["headers"])["Location"])


def logout_succeeded(saml_response: str, request_id: str) -> bool:
    """True when an HTTP-Redirect LogoutResponse (deflated, base64; SAML 2.0 bindings 3.4.4.1)
    answers our LogoutRequest `request_id` with status Success (core 3.7.3). Its signature is not
    checked: the answer only decides whether the page says the IdP's session ended too; the
    portal's own session ended before the request was sent."""
    try:
        xml = s_utils.decode_base64_and_inflate(saml_response)
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except Exception:  # not base64, not deflated, not XML: no answer to us
        return False
    status = root.find(f"{{{NS_SAMLP}}}Status/{{{NS_SAMLP}}}StatusCode")
    return (root.tag == f"{{{NS_SAMLP}}}LogoutResponse"
            and root.get("InResponseTo") == request_id and status is not None
            and status.get("Value") == "urn:oasis:names:tc:SAML:2.0:status:Success")

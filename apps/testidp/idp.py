"""The local test IdP: a SAML 2.0 identity provider built on pysaml2 (`saml2.server.Server`,
xmlsec1 backend), for development (`manage.py testidp`) and for tests that need real signed
responses, hostile ones included.

Two personalities (`PERSONALITIES`), each with its own entityID, signing key and metadata:
`staff` (an organisation e-ID for staff: releases employeeHsaId too) and `citizen` (a citizen e-ID
for patients). Both assert LoA3 by default (Digg's "Tillitsramverk för Svensk e-legitimation").
Responses follow the Web Browser SSO profile (SAML 2.0 profiles §4.1): HTTP-POST binding, one
bearer assertion, signed assertion inside a signed response, a persistent NameID (SAML 2.0 core
§8.3.7) that is an opaque HMAC of the person number with a secret derived from the personality's
signing key (stable per personality and person, never the person number itself).

Hostile responses are keyword variants of `TestIdP.response` (see its docstring); each exists so the
service provider's tests can prove it refuses them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml, samlp
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.s_utils import sid
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT
from saml2.server import Server
from saml2.sigver import pre_signature_part
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

from apps.testidp.keys import PERSONALITY_NAMES, KeyPair, ensure_keys, key_pair

LOA2 = "http://id.elegnamnden.se/loa/1.0/loa2"
LOA3 = "http://id.elegnamnden.se/loa/1.0/loa3"

#: SAML attribute names (NameFormat uri) of the Swedish e-ID framework, by friendly name (Digg,
#: "Attributspecifikation för Sveriges eID-ramverk", ELN-0604).
ATTRIBUTES: dict[str, str] = {
    "personalIdentityNumber": "urn:oid:1.2.752.29.4.13",
    "givenName": "urn:oid:2.5.4.42",
    "sn": "urn:oid:2.5.4.4",
    "displayName": "urn:oid:2.16.840.1.113730.3.1.241",
    "employeeHsaId": "urn:oid:1.2.752.29.6.2.1",
}

#: What each personality is, and the attributes it releases.
PERSONALITIES: dict[str, dict[str, Any]] = {
    "staff": {
        "name": "Test IdP: staff e-ID (organisation)",
        "attributes": ("personalIdentityNumber", "givenName", "sn", "displayName", "employeeHsaId"),
    },
    "citizen": {
        "name": "Test IdP: citizen e-ID",
        "attributes": ("personalIdentityNumber", "givenName", "sn", "displayName"),
    },
}
assert tuple(PERSONALITIES) == PERSONALITY_NAMES

DEFAULT_BASE_URL = "http://127.0.0.1:8001"
DEFAULT_SP_METADATA_URL = "http://localhost:8000/saml/metadata/"
#: Seconds an assertion is valid after it is issued (Conditions/@NotOnOrAfter).
LIFETIME_SECONDS = 300
#: The person a wrapping attack asserts instead (a synthetic person: 1912-12-12, serial 1212's
#: neighbour 2323, Luhn-valid).
INTRUDER: dict[str, str] = {
    "personalIdentityNumber": "191212122323",
    "givenName": "Ingrid",
    "sn": "Inkräktare",
    "displayName": "Ingrid Inkräktare",
    "employeeHsaId": "SE2321000016-EVIL",
}

_PLACEHOLDER = "TESTIDP-ENTITY-REFERENCE"
_DOCTYPES = {
    # An external entity (XXE): a parser that resolves it reads a local file.
    "external_entity": ('<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>', "&xxe;"),
    # Entity expansion ("billion laughs"): 10^9 copies of "lol" once expanded.
    "billion_laughs": (
        "<!DOCTYPE {root} [<!ENTITY lol \"lol\">"
        + "".join(f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
                  for n in range(1, 10))
        + "]>",
        "&lol9;",
    ),
}
_KEEP: Any = object()


class TestIdPError(Exception):
    """The test IdP cannot answer: bad input or a missing peer. `str()` is one line for people."""


class SPMetadataUnavailable(TestIdPError):
    """The service provider's metadata could not be fetched (the portal is not up yet)."""


class BadRequest(TestIdPError):
    """The SAML message is not one this IdP answers (malformed, unknown SP, unknown ACS URL)."""


@dataclass(frozen=True)
class AuthnRequestInfo:
    """What the IdP read from an AuthnRequest (SAML 2.0 core §3.4.1).

    `acs_url` is the AssertionConsumerService the response goes to: the request's own URL only when
    the SP's metadata lists it (SAML 2.0 profiles §4.1.4.1), else the metadata's default."""

    id: str
    sp_entity_id: str
    acs_url: str
    force_authn: bool
    requested_loas: tuple[str, ...]
    xml: str = field(repr=False, default="")


@dataclass(frozen=True)
class IdPResponse:
    """A response ready for the HTTP-POST binding (SAML 2.0 bindings §3.5).

    `xml` is the document as sent; `saml_response` its base64 form (the `SAMLResponse` form field);
    `acs_url` where to POST it."""

    xml: str
    acs_url: str

    @property
    def saml_response(self) -> str:
        return base64.b64encode(self.xml.encode()).decode("ascii")

    def post_data(self, relay_state: str = "") -> dict[str, str]:
        """The form fields the browser POSTs to `acs_url` (RelayState only when given)."""
        data = {"SAMLResponse": self.saml_response}
        if relay_state:
            data["RelayState"] = relay_state
        return data


def _iso(moment: dt.datetime) -> str:
    """xs:dateTime in UTC with a Z (SAML 2.0 core §1.3.3)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _strip_declaration(xml: str) -> str:
    return re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", xml)


class TestIdP:
    """One personality of the test IdP.

    `TestIdP(personality, base_url=DEFAULT_BASE_URL, key_dir=Path("var/testidp"), *,
    sp_metadata=None, sp_metadata_url=None)`: keys are created in `key_dir` on first use
    (`keys.ensure_keys`). The SP is known from its metadata XML: `sp_metadata` (tests pass the
    portal's), else fetched from `sp_metadata_url` on first need and again on the next call while
    the fetch fails (`SPMetadataUnavailable`). Thread-safe.
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, personality: str, base_url: str = DEFAULT_BASE_URL,
                 key_dir: Path | str = Path("var/testidp"), *, sp_metadata: str | None = None,
                 sp_metadata_url: str | None = None) -> None:
        if personality not in PERSONALITIES:
            raise ValueError(f"Unknown personality {personality!r}; one of {', '.join(PERSONALITIES)}.")
        self.personality = personality
        self.base_url = base_url.rstrip("/")
        self.key_dir = Path(key_dir)
        ensure_keys(self.key_dir)
        self.keys: KeyPair = key_pair(self.key_dir, personality)
        self.metadata_keys: KeyPair = key_pair(self.key_dir, "metadata")
        self.untrusted_keys: KeyPair = key_pair(self.key_dir, "untrusted")
        self._sp_metadata = sp_metadata
        self._sp_metadata_url = sp_metadata_url
        self._lock = threading.Lock()
        self._server: Server | None = None
        self._signer: Any = None
        self._name_id_secret = hashlib.sha256(b"testidp-nameid\0" + self.keys.key_der).digest()

    # Names and endpoints -------------------------------------------------------------------

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}/{self.personality}/metadata"

    @property
    def sso_url(self) -> str:
        return f"{self.base_url}/{self.personality}/sso"

    @property
    def slo_url(self) -> str:
        return f"{self.base_url}/{self.personality}/slo"

    @property
    def released_attributes(self) -> tuple[str, ...]:
        """The friendly names (keys of `ATTRIBUTES`) this personality asserts."""
        return tuple(PERSONALITIES[self.personality]["attributes"])

    @property
    def metadata_cert_pem(self) -> str:
        """The certificate (PEM) that verifies `metadata_xml()`; not the response signing one."""
        return self.metadata_keys.cert_pem

    @property
    def signing_cert_pem(self) -> str:
        """The certificate (PEM) of the key that signs responses, as the metadata publishes it."""
        return self.keys.cert_pem

    # pysaml2 ---------------------------------------------------------------------------------

    def _config(self, sp_metadata: str | None) -> IdPConfig:
        conf = {
            "entityid": self.entity_id,
            "xmlsec_binary": shutil.which("xmlsec1") or "/usr/bin/xmlsec1",
            "key_file": str(self.keys.key),
            "cert_file": str(self.keys.cert),
            "metadata": {"inline": [sp_metadata]} if sp_metadata else {},
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "accepted_time_diff": 60,
            "service": {"idp": {
                "name": PERSONALITIES[self.personality]["name"],
                "endpoints": {
                    "single_sign_on_service": [(self.sso_url, BINDING_HTTP_REDIRECT),
                                               (self.sso_url, BINDING_HTTP_POST)],
                    "single_logout_service": [(self.slo_url, BINDING_HTTP_REDIRECT)],
                },
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "want_authn_requests_signed": False,
                "sign_response": True,
                "sign_assertion": True,
            }},
        }
        config = IdPConfig()
        config.load(conf)
        return config

    def _fetch_sp_metadata(self) -> str:
        if self._sp_metadata is not None:
            return self._sp_metadata
        url = self._sp_metadata_url or DEFAULT_SP_METADATA_URL
        if urlsplit(url).scheme not in ("http", "https"):
            raise SPMetadataUnavailable(f"The SP metadata URL must be http(s): {url}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (scheme checked)
                text: str = answer.read(1_000_000).decode("utf-8")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise SPMetadataUnavailable(
                f"Could not fetch the portal's SAML metadata from {url} ({exc}); is it running?"
            ) from None
        return text

    def server(self) -> Server:
        """The pysaml2 Server, knowing the SP (loads its metadata on first use)."""
        with self._lock:
            if self._server is None:
                try:
                    self._server = Server(config=self._config(self._fetch_sp_metadata()))
                except TestIdPError:
                    raise
                except Exception as exc:  # pysaml2 raises many kinds for bad metadata
                    raise SPMetadataUnavailable(f"The SP metadata could not be read: {exc}") from None
            return self._server

    @property
    def sp_entity_id(self) -> str:
        """The one SP this IdP knows (from its metadata)."""
        entity_id = next(iter(self.server().metadata.keys()), None)
        if entity_id is None:
            raise SPMetadataUnavailable("The SP metadata names no entity.")
        return str(entity_id)

    def _sign(self, xml: str, node: type[Any], node_id: str, keys: KeyPair) -> str:
        """`xml` with the signature template of element `node` (a pysaml2 class) whose ID is
        `node_id` filled in by xmlsec1 with `keys`."""
        with self._lock:
            if self._signer is None:
                self._signer = Server(config=self._config(None)).sec
            signer = self._signer
        signed: str = signer.sign_statement(xml, node_name=f"{node.c_namespace}:{node.c_tag}",
                                            key_file=str(keys.key), node_id=node_id)
        return signed

    # Metadata --------------------------------------------------------------------------------

    def metadata_xml(self, *, signed: bool = True, valid_until: dt.datetime | None = None) -> str:
        """The IdP's metadata (SAML 2.0 metadata §2.3.2): an EntityDescriptor with an
        IDPSSODescriptor publishing the response signing certificate, the SSO endpoints
        (HTTP-Redirect and HTTP-POST) and the SLO endpoint (HTTP-Redirect).

        `signed`: an enveloped signature (RSA-SHA256) by the separate metadata signing key
        (`metadata_cert_pem` verifies it), as a federation operator signs its aggregate.
        `valid_until` (aware datetime; default now + 7 days) becomes @validUntil (§2.3.2).
        Needs no SP metadata."""
        config = self._config(None)
        descriptor = entity_descriptor(config)
        descriptor.id = sid()
        descriptor.valid_until = _iso(valid_until or dt.datetime.now(dt.UTC) + dt.timedelta(days=7))
        if not signed:
            return str(descriptor)
        descriptor.signature = pre_signature_part(descriptor.id, self.metadata_keys.cert_base64,
                                                  digest_alg=DIGEST_SHA256, sign_alg=SIG_RSA_SHA256)
        return self._sign(str(descriptor), type(descriptor), descriptor.id, self.metadata_keys)

    # Requests --------------------------------------------------------------------------------

    def parse_authn_request(self, saml_request: str,
                            binding: str = BINDING_HTTP_REDIRECT) -> AuthnRequestInfo:
        """Read an AuthnRequest as it arrived: `saml_request` is the `SAMLRequest` parameter,
        deflated and base64-encoded for HTTP-Redirect (`binding="redirect"` or the binding URN,
        SAML 2.0 bindings §3.4.4.1), base64 for HTTP-POST (`"post"`, §3.5.4). The SP must be the
        one of the metadata and its ACS URL one the metadata lists.
        Raises `BadRequest` (one line) or `SPMetadataUnavailable`."""
        binding = {"redirect": BINDING_HTTP_REDIRECT, "post": BINDING_HTTP_POST}.get(binding, binding)
        if binding not in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
            raise BadRequest(f"Unsupported binding {binding!r}.")
        server = self.server()
        try:
            parsed = server.parse_authn_request(saml_request, binding)
            message = parsed.message
            args = server.response_args(message, [BINDING_HTTP_POST])
        except TestIdPError:
            raise
        except Exception as exc:  # pysaml2 raises many kinds for bad input
            raise BadRequest(f"Not an AuthnRequest this IdP answers: {exc}".splitlines()[0]) from None
        requested: tuple[str, ...] = ()
        if message.requested_authn_context is not None:
            requested = tuple((ref.text or "").strip()
                              for ref in message.requested_authn_context.authn_context_class_ref)
        return AuthnRequestInfo(
            id=message.id,
            sp_entity_id=args["sp_entity_id"],
            acs_url=args["destination"],
            force_authn=str(message.force_authn).lower() in ("true", "1"),
            requested_loas=requested,
            xml=str(parsed.xmlstr) if getattr(parsed, "xmlstr", None) else "",
        )

    def default_acs_url(self) -> str:
        """The SP's default HTTP-POST AssertionConsumerService (its metadata)."""
        services = self.server().metadata.assertion_consumer_service(self.sp_entity_id, BINDING_HTTP_POST)
        if not services:
            raise SPMetadataUnavailable("The SP metadata has no HTTP-POST AssertionConsumerService.")
        default = next((s for s in services if str(s.get("is_default", "")).lower() == "true"), services[0])
        return str(default["location"])

    # Responses -------------------------------------------------------------------------------

    def name_id(self, person_number: str) -> str:
        """The persistent NameID for a person: HMAC-SHA256 of the 12-digit person number with a
        secret derived from this personality's signing key, hex (64 characters). Opaque and
        stable per (personality, person), as SAML 2.0 core §8.3.7 asks."""
        digits = person_number.replace("-", "")
        return hmac.new(self._name_id_secret, digits.encode(), hashlib.sha256).hexdigest()

    def _attributes(self, person: Mapping[str, str]) -> dict[str, str]:
        unknown = set(person) - set(ATTRIBUTES)
        if unknown:
            raise ValueError(f"Unknown attributes {sorted(unknown)}; known: {sorted(ATTRIBUTES)}.")
        extra = set(person) - set(self.released_attributes)
        if extra:
            raise ValueError(f"The {self.personality} IdP does not release {sorted(extra)}.")
        if not person.get("personalIdentityNumber"):
            raise ValueError("personalIdentityNumber is required (it keys the NameID).")
        values = dict(person)
        pnr = values["personalIdentityNumber"]
        if re.fullmatch(r"\d{8}-\d{4}", pnr):
            values["personalIdentityNumber"] = pnr.replace("-", "")
        if "displayName" not in values and ("givenName" in values or "sn" in values):
            values["displayName"] = f"{values.get('givenName', '')} {values.get('sn', '')}".strip()
        return {name: values[name] for name in ATTRIBUTES if name in values}

    def _assertion(self, *, person: Mapping[str, str], loa: str, in_response_to: str | None,
                   recipient: str, audience: str, issued: dt.datetime, not_before: dt.datetime,
                   not_on_or_after: dt.datetime, sign: bool, keys: KeyPair, sp_entity_id: str,
                   sha1: bool = False) -> Any:
        values = self._attributes(person)
        assertion_id = sid()
        confirmation_data = saml.SubjectConfirmationData(
            recipient=recipient, not_on_or_after=_iso(not_on_or_after), in_response_to=in_response_to)
        if not_before > issued:  # only the "not yet valid" variant: profiles §4.1.4.2 forbids it
            confirmation_data.not_before = _iso(not_before)
        assertion = saml.Assertion(
            id=assertion_id, version="2.0", issue_instant=_iso(issued),
            issuer=saml.Issuer(text=self.entity_id, format=saml.NAMEID_FORMAT_ENTITY),
            subject=saml.Subject(
                name_id=saml.NameID(format=NAMEID_FORMAT_PERSISTENT, name_qualifier=self.entity_id,
                                    sp_name_qualifier=sp_entity_id,
                                    text=self.name_id(values["personalIdentityNumber"])),
                subject_confirmation=[saml.SubjectConfirmation(
                    method=saml.SCM_BEARER, subject_confirmation_data=confirmation_data)],
            ),
            conditions=saml.Conditions(
                not_before=_iso(not_before), not_on_or_after=_iso(not_on_or_after),
                audience_restriction=[saml.AudienceRestriction(audience=[saml.Audience(text=audience)])],
            ),
            authn_statement=[saml.AuthnStatement(
                authn_instant=_iso(issued), session_index=sid(),
                authn_context=saml.AuthnContext(authn_context_class_ref=saml.AuthnContextClassRef(text=loa)),
            )],
            attribute_statement=[saml.AttributeStatement(attribute=[
                saml.Attribute(name=ATTRIBUTES[name], name_format=NAME_FORMAT_URI, friendly_name=name,
                               attribute_value=[saml.AttributeValue(text=value)])
                for name, value in values.items()
            ])],
        )
        if sign:
            assertion.signature = pre_signature_part(
                assertion_id, keys.cert_base64, digest_alg=DIGEST_SHA1 if sha1 else DIGEST_SHA256,
                sign_alg=SIG_RSA_SHA1 if sha1 else SIG_RSA_SHA256)
        return assertion

    def response(
        self,
        request: AuthnRequestInfo | str | None,
        person: Mapping[str, str],
        *,
        loa: str = LOA3,
        acs_url: str | None = None,
        sign_response: bool | None = None,
        sign_assertion: bool = True,
        foreign_key: bool = False,
        audience: str | None = None,
        recipient: str | None = None,
        destination: str | None = None,
        in_response_to: str | None = _KEEP,
        expired: bool = False,
        not_yet_valid: bool = False,
        now: dt.datetime | None = None,
        wrapping: Literal["before", "after"] | None = None,
        wrapped_person: Mapping[str, str] | None = None,
        doctype: Literal["external_entity", "billion_laughs"] | None = None,
        sha1: bool = False,
    ) -> IdPResponse:
        """A samlp:Response with one bearer assertion for `person`, for the HTTP-POST binding.

        `request`: the `AuthnRequestInfo` answered, or a request id (str), or None (unsolicited:
        no InResponseTo, SAML 2.0 profiles §4.1.5). Without an `AuthnRequestInfo` the response goes
        to the SP's default ACS (or `acs_url`). `person`: attribute values by friendly name (keys
        of `ATTRIBUTES`, only those this personality releases); `personalIdentityNumber` is
        required and keys the NameID; `YYYYMMDD-NNNN` is sent as 12 digits, anything else as
        given; displayName defaults to "givenName sn". `loa`: the AuthnContextClassRef.
        Raises ValueError for unknown attributes, `SPMetadataUnavailable`.

        A correct response by default: assertion and response signed (RSA-SHA256, exclusive
        c14n, the signing certificate in KeyInfo), Audience = SP entityID, Recipient and
        Destination = ACS URL, InResponseTo = the request's id, valid from `now` for 300 s.
        Hostile variants (each changes only what it names):

        - `sign_assertion=False`: the assertion carries no signature (response signed or not:
          `sign_response`); both False: nothing signed.
        - `foreign_key=True`: every signature made by a key no metadata names (the `untrusted`
          key), its own certificate in KeyInfo ("key only in KeyInfo").
        - `audience=`, `recipient=` (SubjectConfirmationData/@Recipient), `destination=`
          (Response/@Destination): other values.
        - `in_response_to=`: another id, or None for none at all.
        - `expired=True`: issued 10 minutes before `now`, NotOnOrAfter 5 minutes before `now`
          (Conditions and SubjectConfirmationData).
        - `not_yet_valid=True`: Conditions/@NotBefore (and SubjectConfirmationData/@NotBefore)
          10 minutes after `now`.
        - `wrapping="before"|"after"`: XML signature wrapping (XSW): the signed assertion is kept
          intact and a second, unsigned assertion for `wrapped_person` (default `INTRUDER`) is
          placed before it (the first assertion child of the Response) or after it.
        - `doctype="external_entity"|"billion_laughs"`: a DOCTYPE declaring an external entity
          (file:///etc/hostname) or nested entities expanding to 3 GB, referenced in
          Status/StatusMessage, the one element no assertion signature covers, so a parser that
          expanded entities would accept an otherwise valid response.
        - `loa=LOA2`: a weaker level than requested.
        - `sha1=True`: the assertion signed with RSA-SHA1 and a SHA-1 digest (validly, by the
          trusted key).

        With `wrapping` or `doctype` the Response itself is unsigned unless `sign_response=True`,
        whose signature the later edit then breaks (as when an attacker edits a signed response)."""
        if isinstance(request, AuthnRequestInfo):
            request_id: str | None = request.id
            sp_entity_id = request.sp_entity_id
            target = acs_url or request.acs_url
        else:
            request_id = request
            sp_entity_id = self.sp_entity_id
            target = acs_url or self.default_acs_url()
        if in_response_to is not _KEEP:
            request_id = in_response_to
        if sign_response is None:
            sign_response = not (wrapping or doctype)
        keys = self.untrusted_keys if foreign_key else self.keys
        now = now or dt.datetime.now(dt.UTC)
        issued, not_before = now, now
        not_on_or_after = now + dt.timedelta(seconds=LIFETIME_SECONDS)
        if expired:
            issued = not_before = now - dt.timedelta(minutes=10)
            not_on_or_after = now - dt.timedelta(minutes=5)
        if not_yet_valid:
            not_before = now + dt.timedelta(minutes=10)
            not_on_or_after = not_before + dt.timedelta(seconds=LIFETIME_SECONDS)

        common: dict[str, Any] = {"in_response_to": request_id, "recipient": recipient or target,
                  "audience": audience or sp_entity_id, "issued": issued, "not_before": not_before,
                  "not_on_or_after": not_on_or_after, "keys": keys, "sp_entity_id": sp_entity_id}
        assertion = self._assertion(person=person, loa=loa, sign=sign_assertion, sha1=sha1,
                                    **common)
        status = samlp.Status(status_code=samlp.StatusCode(value=samlp.STATUS_SUCCESS))
        if doctype:
            if doctype not in _DOCTYPES:
                raise ValueError(f"doctype: one of {', '.join(_DOCTYPES)}")
            status.status_message = samlp.StatusMessage(text=_PLACEHOLDER)
        response = samlp.Response(
            id=sid(), version="2.0", issue_instant=_iso(issued), destination=destination or target,
            in_response_to=request_id,
            issuer=saml.Issuer(text=self.entity_id, format=saml.NAMEID_FORMAT_ENTITY),
            status=status, assertion=[assertion],
        )
        if sign_response:
            response.signature = pre_signature_part(response.id, keys.cert_base64,
                                                    digest_alg=DIGEST_SHA256, sign_alg=SIG_RSA_SHA256)
        xml = str(response)
        if sign_assertion:
            xml = self._sign(xml, saml.Assertion, assertion.id, keys)
        if sign_response:
            xml = self._sign(xml, samlp.Response, response.id, keys)
        if wrapping:
            xml = self._wrap(xml, wrapping, wrapped_person or self._intruder(), loa, common)
        if doctype:
            declaration, reference = _DOCTYPES[doctype]
            xml = _strip_declaration(xml).replace(_PLACEHOLDER, reference)
            root = re.match(r"\s*<([\w:.-]+)", xml)
            xml = declaration.format(root=root.group(1) if root else "Response") + "\n" + xml
        return IdPResponse(xml=xml, acs_url=target)

    def _intruder(self) -> dict[str, str]:
        return {name: value for name, value in INTRUDER.items() if name in self.released_attributes}

    def _wrap(self, xml: str, where: str, person: Mapping[str, str], loa: str,
              common: dict[str, Any]) -> str:
        if where not in ("before", "after"):
            raise ValueError('wrapping: "before" or "after"')
        evil = self._assertion(person=person, loa=loa, sign=False, **common)
        evil_xml = _strip_declaration(str(evil))
        start = re.search(r"<(?:[\w.-]+:)?Assertion[\s>]", xml)
        end = re.search(r"</(?:[\w.-]+:)?Assertion>", xml)
        if not start or not end:
            raise TestIdPError("No assertion to wrap.")
        if where == "before":
            return xml[:start.start()] + evil_xml + xml[start.start():]
        return xml[:end.end()] + evil_xml + xml[end.end():]

    # Logout ----------------------------------------------------------------------------------

    def logout_response(self, saml_request: str, relay_state: str = "", *, sig_alg: str | None = None,
                        signature: str | None = None) -> str:
        """Answer a LogoutRequest that arrived by HTTP-Redirect (SAML 2.0 core §3.7, bindings
        §3.4) with a LogoutResponse (Success) to the SP's SingleLogoutService, also by
        HTTP-Redirect, signed with the binding's query-string signature (RSA-SHA256, bindings
        §3.4.4.1). Returns the URL to redirect the browser to. Raises `BadRequest`."""
        server = self.server()
        try:
            parsed = server.parse_logout_request(saml_request, BINDING_HTTP_REDIRECT,
                                                 relay_state=relay_state or None,
                                                 sigalg=sig_alg, signature=signature)
            message = parsed.message
            answer = server.create_logout_response(message, [BINDING_HTTP_REDIRECT], sign=False)
            args = server.response_args(message, [BINDING_HTTP_REDIRECT])
            info = server.apply_binding(BINDING_HTTP_REDIRECT, str(answer), args["destination"],
                                        relay_state, response=True, sign=True, sigalg=SIG_RSA_SHA256)
        except TestIdPError:
            raise
        except Exception as exc:  # pysaml2 raises many kinds for bad input
            raise BadRequest(f"Not a LogoutRequest this IdP answers: {exc}".splitlines()[0]) from None
        location = dict(info["headers"])["Location"]
        return str(location)

"""Fetching and checking an IdP's SAML metadata (SAML 2.0 metadata, saml-metadata-2.0-os).

A copy is good when: it parses without a DTD (defusedxml), its root is an EntityDescriptor or
EntitiesDescriptor containing the configured entityID as an IdP, its `validUntil` (root and entity)
has not passed (metadata 2.1.1: a consumer must not use metadata past its validUntil), and, when a
certificate is configured, the root carries an enveloped signature over the whole document
(`Reference URI` naming the root's ID) that verifies with that certificate and no other
(xmlsec1 with the given certificate only). Unsigned metadata is then refused, whatever pysaml2
would accept. The caller keeps the last good copy when a new one is refused.
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from django.conf import settings
from saml2 import time_util

NS_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
#: Metadata larger than this is refused (bytes).
MAX_METADATA_BYTES = 5 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 10
#: Stands for a configured certificate file that could not be read: every copy is refused.
CERT_UNREADABLE = "unreadable"


class MetadataRefused(Exception):
    """A copy that may not be used; `code` names why (`metadata.<reason>`)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class GoodMetadata:
    """A checked copy: its XML text and its earliest `validUntil` (UTC), if any."""

    xml: str
    valid_until: dt.datetime | None


def fetch(*, url: str = "", path: str = "") -> bytes:
    """The metadata bytes from `url` (HTTP GET, 10 s timeout, at most 5 MiB) or from the file
    `path`. Raises MetadataRefused (`metadata.unreachable`) when neither answers."""
    try:
        if url:
            with requests.get(url, timeout=FETCH_TIMEOUT_SECONDS, stream=True) as response:
                response.raise_for_status()
                body = response.raw.read(MAX_METADATA_BYTES + 1, decode_content=True)
        else:
            body = Path(path).read_bytes()[:MAX_METADATA_BYTES + 1]
    except (requests.RequestException, OSError) as exc:
        raise MetadataRefused("metadata.unreachable", str(exc)[:500]) from exc
    if len(body) > MAX_METADATA_BYTES:
        raise MetadataRefused("metadata.too_large")
    return body


def _valid_until(element: object) -> dt.datetime | None:
    value = getattr(element, "get", lambda _name: None)("validUntil")
    if not value:
        return None
    try:
        parsed = time_util.str_to_time(value)
    except (ValueError, TypeError) as exc:
        raise MetadataRefused("metadata.malformed", "validUntil") from exc
    return dt.datetime.fromtimestamp(calendar.timegm(parsed), dt.UTC)


def _verify_signature(xml: bytes, node: str, cert_pem: str) -> None:
    """xmlsec1 verifies the enveloped signature with the configured certificate only."""
    with tempfile.TemporaryDirectory() as tmp:
        doc, cert = os.path.join(tmp, "md.xml"), os.path.join(tmp, "cert.pem")
        Path(doc).write_bytes(xml)
        Path(cert).write_text(cert_pem)
        result = subprocess.run(  # noqa: S603 (fixed binary, our own temporary files)
            [settings.SAML_XMLSEC_BINARY, "--verify", "--enabled-key-data", "x509",
             "--pubkey-cert-pem", cert, "--id-attr:ID", node, doc],
            capture_output=True, timeout=30, check=False)
    if result.returncode != 0:
        raise MetadataRefused("metadata.signature", result.stderr.decode(errors="replace")[-300:])


def check(xml: bytes, *, entity_id: str, cert_pem: str, now: dt.datetime) -> GoodMetadata:
    """Check a copy of the metadata of `entity_id` (see the module docstring). Raises
    MetadataRefused: `metadata.malformed`, `metadata.entity` (the entityID is not in it as an IdP),
    `metadata.expired`, `metadata.unsigned` or `metadata.signature`."""
    try:
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SyntaxError, ValueError) as exc:
        raise MetadataRefused("metadata.malformed", str(exc)[:300]) from exc
    if root.tag not in (f"{{{NS_MD}}}EntityDescriptor", f"{{{NS_MD}}}EntitiesDescriptor"):
        raise MetadataRefused("metadata.malformed", root.tag[:200])
    entities = [root] if root.tag.endswith("}EntityDescriptor") else root.findall(
        f".//{{{NS_MD}}}EntityDescriptor")
    entity = next((e for e in entities if e.get("entityID") == entity_id
                   and e.find(f"{{{NS_MD}}}IDPSSODescriptor") is not None), None)
    if entity is None:
        raise MetadataRefused("metadata.entity")
    limits = [d for d in (_valid_until(root), _valid_until(entity)) if d is not None]
    valid_until = min(limits) if limits else None
    if valid_until is not None and valid_until <= now:
        raise MetadataRefused("metadata.expired", valid_until.isoformat())
    if cert_pem == CERT_UNREADABLE:
        raise MetadataRefused("metadata.cert_unreadable")
    if cert_pem:
        signature = root.find(f"{{{NS_DS}}}Signature")
        root_id = root.get("ID") or ""
        reference = signature.find(f"{{{NS_DS}}}SignedInfo/{{{NS_DS}}}Reference") if (
            signature is not None) else None
        if signature is None or reference is None or not root_id:
            raise MetadataRefused("metadata.unsigned")
        if reference.get("URI") != f"#{root_id}":
            raise MetadataRefused("metadata.signature", "reference")
        _verify_signature(xml, f"{NS_MD}:{root.tag.rsplit('}', 1)[1]}", cert_pem)
    return GoodMetadata(xml=xml.decode("utf-8"), valid_until=valid_until)

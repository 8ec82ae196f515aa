"""A software WebAuthn authenticator for tests: an EC P-256 key (COSE alg -7, ES256) that answers
`navigator.credentials.create()` with "none" attestation and `.get()` with a signed assertion, in
the JSON form browsers send (W3C Web Authentication Level 2, sections 5.2 and 6.1; CBOR by
RFC 8949 through cbor2). py_webauthn verifies what it makes exactly as it would a browser's."""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

#: Authenticator data flags (WebAuthn 6.1): user present, user verified, attested credential data.
UP, UV, AT = 0x01, 0x04, 0x40


def _b64(data: bytes) -> str:
    return bytes_to_base64url(data)


@dataclass
class SoftAuthenticator:
    """One discoverable credential for `rp_id`, answering as `origin`."""

    rp_id: str = "testserver"
    origin: str = "http://testserver"
    sign_count: int = 0
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    aaguid: bytes = bytes(16)
    user_handle: bytes | None = None

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin or self.origin,
                           "crossOrigin": False}).encode()

    def _auth_data(self, flags: int, attested: bytes = b"") -> bytes:
        return (hashlib.sha256(self.rp_id.encode()).digest() + bytes([flags])
                + struct.pack(">I", self.sign_count) + attested)

    def create(self, options: dict[str, Any], *, origin: str | None = None,
               flags: int = UP | UV) -> dict[str, Any]:
        """The PublicKeyCredential JSON answering creation `options` (the portal's JSON)."""
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        attested = (self.aaguid + struct.pack(">H", len(self.credential_id)) + self.credential_id
                    + self._cose_key())
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {},
                                   "authData": self._auth_data(flags | AT, attested)})
        return {"id": _b64(self.credential_id), "rawId": _b64(self.credential_id),
                "type": "public-key", "clientExtensionResults": {},
                "response": {"clientDataJSON": _b64(self._client_data(
                    "webauthn.create", options["challenge"], origin)),
                    "attestationObject": _b64(attestation), "transports": ["internal"]}}

    def get(self, options: dict[str, Any], *, origin: str | None = None, flags: int = UP | UV,
            count_step: int = 1, user_handle: bytes | None = None) -> dict[str, Any]:
        """The PublicKeyCredential JSON answering request `options`; the counter moves by
        `count_step` first (negative: backwards, as a cloned authenticator would)."""
        self.sign_count += count_step
        auth_data = self._auth_data(flags)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        handle = user_handle if user_handle is not None else self.user_handle
        response = {"clientDataJSON": _b64(client_data), "authenticatorData": _b64(auth_data),
                    "signature": _b64(signature)}
        if handle:
            response["userHandle"] = _b64(handle)
        return {"id": _b64(self.credential_id), "rawId": _b64(self.credential_id),
                "type": "public-key", "clientExtensionResults": {}, "response": response}


def user_handle_of(user_id: uuid.UUID) -> bytes:
    return user_id.bytes

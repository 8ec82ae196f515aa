"""Helpers for the out-of-band login tests: a wallet (the e-ID's key, kept "on the phone") and
the app's signature over a request's challenge."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from apps.core.actors import MOBILE_APP
from apps.identities.models import Person
from apps.issuance import services
from apps.issuance.challenge import challenge, denial_challenge
from apps.issuance.models import OutOfBandRequest
from tests.issuance.support import device_csr, issue


@dataclass
class Wallet:
    """What the app keeps after activation: the private key and the certificate serial."""

    key: ec.EllipticCurvePrivateKey
    serial: str

    def sign(self, req: OutOfBandRequest, number: str | None = None) -> bytes:
        """The app's approval: a signature over the challenge with the number typed (by
        default the right one)."""
        return self.key.sign(challenge(req, number=number), ec.ECDSA(hashes.SHA256()))

    def sign_b64(self, req: OutOfBandRequest, number: str | None = None) -> str:
        return base64.b64encode(self.sign(req, number)).decode("ascii")

    def sign_denial(self, req: OutOfBandRequest) -> bytes:
        """The app's "no": a signature over the request's denial challenge."""
        return self.key.sign(denial_challenge(req), ec.ECDSA(hashes.SHA256()))

    def denial_body(self, req: OutOfBandRequest) -> dict[str, str]:
        """The JSON body of `POST .../denial`."""
        return {"serial": self.serial,
                "signature": base64.b64encode(self.sign_denial(req)).decode("ascii")}


def activate(person: Person, device: str = "Test phone") -> Wallet:
    """Issue a code for `person` and redeem it with a fresh key, as the app does."""
    key, csr = device_csr(device)
    activation = services.activation_code_redeem(
        actor=MOBILE_APP, csr_pem=csr, device_name=device, qr_payload=issue(person).qr_payload)
    return Wallet(key, activation.eid.serial)


def approve(wallet: Wallet, req: OutOfBandRequest, *, number: str | None = None) -> OutOfBandRequest:
    """Approve as the app does: `number` as typed (default the right one), signed."""
    typed = req.number if number is None else number
    return services.mobile_eid_login_approve(
        actor=MOBILE_APP, reference=req.reference, serial=wallet.serial, number=typed,
        signature=wallet.sign(req, typed))


def deny(wallet: Wallet, req: OutOfBandRequest) -> OutOfBandRequest:
    """Say no as the app does: the denial challenge signed with the wallet's key."""
    return services.mobile_eid_login_deny(actor=MOBILE_APP, reference=req.reference,
                                          serial=wallet.serial, signature=wallet.sign_denial(req))

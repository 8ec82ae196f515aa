"""The API's request and response shapes; they are also its OpenAPI 3.1 schema (drf-spectacular)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class Text(serializers.CharField):
    """A JSON string member: a number, boolean, array or object is refused (400 `invalid`), not
    turned into text, so the API takes only what its schema says (`type: string`)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class RegexText(serializers.RegexField, Text):
    """A JSON string member that must match a pattern."""


class ClosedRequest(serializers.Serializer):  # type: ignore[type-arg]
    """A JSON object request that has only the members it declares: an unknown member is refused
    (400 `invalid`, the member named in `errors`), so the API takes only what it documents. Its
    schema says so (`additionalProperties: false`, apps.api.schema)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(self.initial_data, dict):
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [_("Unknown member.")] for name in unknown})
        return attrs


class EIDActivationRequest(ClosedRequest):
    """`{csr, device_name, qr_payload}` or `{csr, device_name, person_number, code}`."""

    # PEM is printable ASCII with line breaks (RFC 7468 section 3).
    csr = RegexText(
        r"^[\t\n\r -~]*$", max_length=16 * 1024, trim_whitespace=False,
        error_messages={"invalid": _("A certificate request is PEM text (ASCII).")},
        help_text="PKCS#10 certificate request (PEM, RFC 7468) for the device's EC P-256 key.")
    # No name given: stored empty and shown as "Mobile e-ID" in the reader's language.
    device_name = Text(
        max_length=64, required=False, default="", allow_blank=True,
        help_text="The device's name as the person chose it, 0-64 printable characters.")
    qr_payload = Text(
        max_length=200, required=False,
        help_text="The QR code's text `EIDACT1.<code id>.<secret>`; or give `person_number` "
                  "and `code` instead.")
    person_number = Text(
        max_length=20, required=False,
        help_text="The person's personnummer or samordningsnummer (with `code`).")
    code = Text(
        max_length=20, required=False, help_text="The typed activation code `XXXX-XXXX`.")


class EIDActivation(serializers.Serializer):  # type: ignore[type-arg]
    """The new mobile e-ID (201 Created)."""

    eid_id = serializers.UUIDField(help_text="The e-ID's id.")
    serial = Text(help_text="The certificate's serial number, lowercase hex.")
    certificate = Text(help_text="The certificate (PEM).")
    chain = Text(help_text="The certificate, then the issuing CA's (PEM).")
    not_after = serializers.DateTimeField(help_text="End of validity, ISO 8601 in UTC (`Z`).")


class Problem(serializers.Serializer):  # type: ignore[type-arg]
    """A refusal: problem details (RFC 9457) with the stable `code` as an extension member."""

    type = serializers.URLField(help_text="The problem type: the problem base URL + `code`.")
    title = Text(help_text="The HTTP status phrase.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = Text(allow_blank=True,
                                   help_text="What went wrong, in the request's language.")
    code = Text(help_text="Stable code a client may branch on.")
    field = Text(required=False, help_text="The request member at fault.")

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        # `errors` as a class attribute would hide Serializer.errors.
        fields = super().get_fields()
        fields["errors"] = serializers.DictField(
            required=False, help_text="For `invalid`: the messages per request member.")
        return fields


class EIDAuthRequest(serializers.Serializer):  # type: ignore[type-arg]
    """A login request as the app shows it before the person approves (never the number)."""

    reference = Text(help_text="The request's reference (32 url-safe characters).")
    service = Text(help_text="The name of the service asking, in the request's language.")
    origin = Text(help_text="The portal's origin; it enters the signed challenge.")
    nonce = Text(help_text="32 hex characters; they enter the signed challenge.")
    created_at = serializers.DateTimeField(help_text="Start, RFC 3339 in UTC (`Z`).")
    expires_at = serializers.DateTimeField(help_text="End, RFC 3339 in UTC (`Z`): 120 s later.")


def _serial() -> RegexText:
    return RegexText(
        r"^[0-9A-Fa-f]{1,40}$", help_text="The e-ID certificate's serial number, hex.")


def _signature(challenge: str) -> RegexText:
    # A DER ECDSA P-256 signature is at most 72 octets (96 base64 characters); 400 leaves room
    # and bounds the work.
    return RegexText(
        r"^[A-Za-z0-9+/]+={0,2}$", max_length=400,
        help_text="Base64 (standard alphabet) of the DER ECDSA P-256 / SHA-256 signature over "
                  f"`{challenge}` (UTF-8) with the e-ID's key.")


class EIDAuthApprovalRequest(ClosedRequest):
    """`{serial, number, signature}`."""

    serial = _serial()
    number = RegexText(r"^[0-9]{2}$", help_text="The two digits the browser shows.")
    signature = _signature("EIDAUTH1|<reference>|<origin>|<number>|<nonce>")


class EIDAuthDenialRequest(ClosedRequest):
    """`{serial, signature}`: the person's "no", signed with their e-ID, so knowing the
    reference is not enough to deny a login."""

    serial = _serial()
    signature = _signature("EIDDENY1|<reference>|<origin>|<nonce>")


class EIDAuthAnswer(serializers.Serializer):  # type: ignore[type-arg]
    """The request's new status."""

    status = Text(help_text="`approved` or `denied`.")

"""How the API's own serializers appear in its OpenAPI schema (drf-spectacular extensions,
registered when `apps.api` is ready)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema

from apps.api.authzen import Closed
from apps.api.serializers import ClosedRequest


class ClosedRequestExtension(OpenApiSerializerExtension):
    """A `ClosedRequest` refuses unknown members: `additionalProperties: false` (JSON Schema
    2020-12, section 10.3.2.3)."""

    target_class = ClosedRequest
    match_subclasses = True

    def map_serializer(self, auto_schema: AutoSchema, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer(self.target, direction,
                                                             bypass_extensions=True)
        schema["additionalProperties"] = False
        return schema


class ClosedMemberExtension(ClosedRequestExtension):
    """A nested `apps.api.authzen.Closed` object refuses unknown members too."""

    target_class = Closed  # type: ignore[assignment]
    match_subclasses = True


class AccessTokenScheme(OpenApiAuthenticationExtension):
    """`AccessTokenAuthentication`: an RFC 6750 bearer access token (an RFC 9068 JWT) of the
    portal's identity provider."""

    target_class = "apps.api.authentication.AccessTokenAuthentication"
    name = "accessToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "An access token of the portal's OpenID Connect provider "
                               "(/oauth2/token/). The AuthZEN endpoints need a client "
                               "credentials token with the scope `access.evaluate`."}

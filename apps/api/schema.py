"""How the API's own serializers appear in its OpenAPI schema (drf-spectacular extensions,
registered when `apps.api` is ready)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema

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

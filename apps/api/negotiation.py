"""Content negotiation of the API: it always answers JSON, whatever the client's `Accept`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """Render with the view's first renderer (JSON; the schema view's OpenAPI JSON) and never
    answer 406: a server may disregard `Accept` and send its default (RFC 9110 12.5.1), and a
    client asking for `application/problem+json` only must still get its problem. Request
    bodies are chosen as DRF does (then checked by apps.api.parsers.JSONParser)."""

    def select_renderer(self, request: Request, renderers: Iterable[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, Any]:
        first = next(iter(renderers))
        return first, first.media_type

"""What the API reads: JSON only (RFC 8259), bounded in size and nesting.

Every API view parses with `JSONParser` (settings `REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]`), so
a form-encoded or multipart body is never processed: it is refused with 415 before it is read.
The body is read straight from the request stream, at most `MAX_BODY_BYTES` + 1 bytes, so a large
body costs no memory and is refused with 413; nesting deeper than `MAX_DEPTH` is refused with 400
before the JSON decoder runs (it would otherwise recurse once per level). All three refusals are
DRF exceptions, answered as problem+json by `apps.api.problems` and audited by the views that
take a body. Limits and their reasons: docs/security.md ("API input").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import IO, Any

from django.utils.http import parse_header_parameters
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, renderers
from rest_framework.parsers import BaseParser

#: Largest request body in bytes. The largest request (an e-ID activation) is under 17 KiB: a
#: PKCS#10 request of at most 16 KiB and a few short fields.
MAX_BODY_BYTES = 64 * 1024
#: Deepest nesting of arrays and objects. The API's requests are flat objects (depth 1).
MAX_DEPTH = 32

# A JSON string (RFC 8259, section 7), in which brackets do not nest, or a bracket. A string
# without its closing quote runs to the end of the text, so a match never fails once begun and
# the scan stays linear whatever the text (no backtracking, no restart inside a string).
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)


class BodyTooLarge(exceptions.APIException):
    """The body is larger than `MAX_BODY_BYTES` (HTTP 413, RFC 9110 section 15.5.14)."""

    status_code = 413
    default_detail = _("The request body is too large.")
    default_code = "body_too_large"


class TooDeep(exceptions.ParseError):
    """Arrays or objects nested deeper than `MAX_DEPTH` (HTTP 400)."""

    default_detail = _("The JSON body is nested too deeply.")
    default_code = "too_deep"


def nesting_exceeds(text: str, limit: int) -> bool:
    """True when arrays and objects in the JSON `text` nest deeper than `limit`. Linear in the
    length of `text` and without recursion; `text` need not be valid JSON."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for token in _TOKEN.finditer(text):
        if token.group() in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif token.group() in ("]", "}"):
            depth -= 1
    return False


class JSONParser(BaseParser):
    """`application/json` request bodies (RFC 8259): UTF-8 (section 8.1; a `charset` parameter is
    ignored, section 11), at most `MAX_BODY_BYTES` and `MAX_DEPTH` levels, no `NaN` or
    `Infinity`, and no unpaired surrogates in strings (section 8.2). Returns the decoded value.

    Raises UnsupportedMediaType (415) for another media type (also `application/*` or a
    `+json` type), BodyTooLarge (413), TooDeep (400 `too_deep`) and ParseError (400
    `parse_error`) for a body that is not such JSON.
    """

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(self, stream: IO[bytes], media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        if parse_header_parameters(media_type or "")[0].lower() != self.media_type:
            raise exceptions.UnsupportedMediaType(media_type or "")
        body = stream.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise BodyTooLarge(_("The request body is too large: at most %(max)d bytes.")
                               % {"max": MAX_BODY_BYTES})
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.ParseError(_("The request body is not UTF-8 text.")) from None
        if nesting_exceeds(text, MAX_DEPTH):
            raise TooDeep(_("The JSON body is nested too deeply: at most %(max)d levels.")
                          % {"max": MAX_DEPTH})
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
            # Unpaired surrogates (written as \ud800 escapes) decode but cannot be stored.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except json.JSONDecodeError as exc:
            raise exceptions.ParseError(
                _("The request body is not valid JSON (line %(line)d, column %(column)d).")
                % {"line": exc.lineno, "column": exc.colno}) from None
        except (ValueError, UnicodeEncodeError):
            raise exceptions.ParseError(_("The request body is not valid JSON.")) from None
        return data


def _refuse_constant(name: str) -> Any:
    """`NaN`, `Infinity` and `-Infinity` are not JSON (RFC 8259, section 6)."""
    raise ValueError(f"{name} is not a JSON number")

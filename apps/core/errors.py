"""One error type for domain rules, with stable codes.

Services raise `PortalError` subclasses; pages show `message` (translated, lazily) next to `field`,
and the API renders them as `application/problem+json` (RFC 9457) with `code` as an extension member.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class PortalError(Exception):
    """A refused request. `code` is stable (clients may branch on it); `message` is for people.

    `field` names the form field the error belongs to (None: the whole form); `status` is the HTTP
    status the API answers with.
    """

    status: int = 400
    default_code: str = "invalid"

    def __init__(
        self, message: str | Promise, *, code: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code or self.default_code
        self.field = field


class ValidationFailed(PortalError):
    """Input breaks a domain rule (HTTP 400)."""

    status = 400
    default_code = "invalid"


class NotFound(PortalError):
    """Missing, or outside the actor's scope: the same answer, so existence never leaks (404)."""

    status = 404
    default_code = "not_found"

    def __init__(self, message: str | Promise | None = None, *, code: str | None = None) -> None:
        super().__init__(message or _("Not found."), code=code)


class Forbidden(PortalError):
    """The actor is known but may not do this (HTTP 403)."""

    status = 403
    default_code = "forbidden"


class Conflict(PortalError):
    """The request clashes with the current state, e.g. a code already used (HTTP 409)."""

    status = 409
    default_code = "conflict"

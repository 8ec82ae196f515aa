"""Showing a service's error on the form that caused it."""

from __future__ import annotations

from django import forms

from apps.core.errors import Forbidden, NotFound, PortalError


def add_portal_error(form: forms.Form, exc: PortalError) -> None:
    """Put `exc.message` next to the field it names, or at the top of the form when the form has
    no such field. NotFound and Forbidden are re-raised: they are answers, not form errors
    (PortalErrorMiddleware turns them into 404 and 403)."""
    if isinstance(exc, (NotFound, Forbidden)):
        raise exc
    form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))

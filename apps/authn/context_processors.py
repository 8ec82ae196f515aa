"""Template context: how the user logged in, for the header."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from apps.authn import session


def authn(request: HttpRequest) -> dict[str, Any]:
    return {"authn": session.get(request), "debug_demo": settings.DEMO_LOGIN_ENABLED}

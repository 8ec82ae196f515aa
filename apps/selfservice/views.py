"""Self-service pages for staff and patients, and the start page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    """The start page: where each kind of user goes next."""
    return render(request, "home.html")

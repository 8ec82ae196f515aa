"""Placeholder: replaced by the administration pages."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def placeholder(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")

"""Placeholder: replaced by the journey's pages."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def placeholder(request: HttpRequest, **kwargs: object) -> HttpResponse:
    return render(request, "home.html")

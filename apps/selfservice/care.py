"""Placeholder: replaced by the journey's pages."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path


def placeholder(request: HttpRequest, **kwargs: object) -> HttpResponse:
    return render(request, "home.html")


urlpatterns = [
    path("care/consent/", placeholder, name="care_consent"),
]

"""The JSON API (`/api/v1/`). Errors are application/problem+json (RFC 9457)."""

from django.urls import path, re_path

from apps.api.views import EIDActivationApi, NotFoundApi

app_name = "api"
urlpatterns = [
    path("eid/activations", EIDActivationApi.as_view(), name="eid_activations"),
    # Last: every other /api/v1/ path answers 404 problem+json, whatever the method.
    re_path(r"", NotFoundApi.as_view(), name="not_found"),
]

"""The JSON API (`/api/v1/`). Errors are application/problem+json (RFC 9457)."""

from django.urls import path

from apps.api.views import EIDActivationApi

app_name = "api"
urlpatterns = [
    path("eid/activations", EIDActivationApi.as_view(), name="eid_activations"),
]

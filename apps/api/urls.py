"""The JSON API (`/api/v1/`) and its OpenAPI 3.1 schema. Errors are application/problem+json
(RFC 9457)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView

from apps.api.views import (
    EIDActivationApi,
    EIDAuthApprovalApi,
    EIDAuthDenialApi,
    EIDAuthRequestApi,
    NotFoundApi,
    OidcDemoMeApi,
)

app_name = "api"
urlpatterns = [
    path("eid/activations", EIDActivationApi.as_view(), name="eid_activations"),
    path("eid/auth-requests/<str:reference>", EIDAuthRequestApi.as_view(),
         name="eid_auth_request"),
    path("eid/auth-requests/<str:reference>/approval", EIDAuthApprovalApi.as_view(),
         name="eid_auth_approval"),
    path("eid/auth-requests/<str:reference>/denial", EIDAuthDenialApi.as_view(),
         name="eid_auth_denial"),
    path("oidc-demo/me", OidcDemoMeApi.as_view(), name="oidc_demo_me"),
    path("schema", SpectacularJSONAPIView.as_view(), name="schema"),
    # Last: every other /api/v1/ path answers 404 problem+json, whatever the method.
    re_path(r"", NotFoundApi.as_view(), name="not_found"),
]

"""The rules service's OpenID AuthZEN Authorization API 1.0 under `/access/v1/` (the paths
AuthZEN 1.0 names). Errors are application/problem+json (RFC 9457), as under `/api/v1/`."""

from django.urls import path, re_path

from apps.api.access_views import AccessEvaluationApi, AccessEvaluationsApi
from apps.api.views import NotFoundApi

app_name = "access"
urlpatterns = [
    path("evaluation", AccessEvaluationApi.as_view(), name="evaluation"),
    path("evaluations", AccessEvaluationsApi.as_view(), name="evaluations"),
    # Last: every other /access/v1/ path answers 404 problem+json, whatever the method.
    re_path(r"", NotFoundApi.as_view(), name="not_found"),
]

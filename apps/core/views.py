"""The portal's own plain endpoints."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe


@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """`GET` (or `HEAD`) `/healthz`: `{"status": "ok"}` when this process answers (a proxy's or an
    orchestrator's liveness check, docs/deployment.md). Touches neither the database nor the
    session; `make bench` uses it as the baseline of the token endpoint's figures."""
    return JsonResponse({"status": "ok"})

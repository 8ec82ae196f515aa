"""The JSON API (`/api/v1/`). Errors are application/problem+json (RFC 9457)."""


app_name = "api"
urlpatterns: list = []  # type: ignore[type-arg]

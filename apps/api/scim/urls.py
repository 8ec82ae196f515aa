"""`/scim/v2/`: every path goes to the SCIM server, which routes it itself (RFC 7644 §3.2) and
answers unknown paths with a SCIM 404."""

from django.urls import re_path

from apps.api.scim.views import scim_endpoint

app_name = "scim"
urlpatterns = [
    re_path(r"^(?P<path>.*)$", scim_endpoint, name="endpoint"),
]

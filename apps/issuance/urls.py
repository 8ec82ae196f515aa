"""The CA's published services: the CA certificate, the CRL and the OCSP responder (stable URLs,
written into every certificate)."""

from django.urls import path, re_path

from apps.issuance import views

app_name = "issuance"
urlpatterns = [
    path("ca.pem", views.ca_certificate_view, name="ca_pem"),
    path("crl", views.crl_view, name="crl"),
    path("ocsp", views.ocsp_view, name="ocsp"),
    # RFC 6960 A.1: the base64 request may contain "/" and may be empty (then malformed).
    re_path(r"^ocsp/(?P<encoded>.*)$", views.ocsp_get_view, name="ocsp_get"),
]

"""The CA's published files: the CA certificate and the CRL (stable URLs)."""

from django.urls import path

from apps.issuance import views

app_name = "issuance"
urlpatterns = [
    path("ca.pem", views.ca_certificate_view, name="ca_pem"),
    path("crl", views.crl_view, name="crl"),
]

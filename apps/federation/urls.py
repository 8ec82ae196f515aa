from django.urls import path

from apps.federation import mobile_eid, saml, views

app_name = "federation"
urlpatterns = [
    path("saml/", views.discovery_view, name="discovery"),
    path("saml/login/<uuid:idp_id>/", views.login_view, name="login"),
    path("saml/acs/", views.acs_view, name="acs"),
    path("saml/complete/", views.complete_view, name="complete"),
    path("saml/logout/", views.slo_start_view, name="slo_start"),
    path("saml/ls/", views.ls_view, name="ls"),
    path("saml/metadata/", views.SPMetadataView.as_view(config_loader_path=saml.config_loader),
         name="metadata"),
    path("administration/identity-providers/", views.idp_list_view, name="idp_list"),
    *mobile_eid.urlpatterns,
]

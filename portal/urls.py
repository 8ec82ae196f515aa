"""URL map: pages, the JSON API (/api/v1/), the rules service's AuthZEN API (/access/v1/,
/.well-known/authzen-configuration), the CA's published files (/issuance/), the inbound SCIM
server (/scim/v2/) and the OpenID Connect provider (/oauth2/, /.well-known/openid-configuration)."""

from django.urls import include, path

from apps.api.access_views import AuthzenConfigurationApi
from apps.core.views import health
from apps.selfservice.views import home
from portal.readiness import readyz

urlpatterns = [
    path("", home, name="home"),
    path("healthz", health, name="health"),
    path("readyz", readyz, name="ready"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("apps.authn.urls")),
    path("", include("apps.federation.urls")),
    # The OpenID Connect provider: /oauth2/... and /.well-known/openid-configuration.
    path("", include("apps.federation.oidc.urls")),
    path("administration/", include("apps.administration.urls")),
    path("issuance/", include("apps.issuance.urls")),
    path("", include("apps.selfservice.urls")),
    path("api/v1/", include("apps.api.urls")),
    path("access/v1/", include("apps.api.access_urls")),
    # The inbound SCIM 2.0 server for HR systems (docs/scim-inbound.md).
    path("scim/v2/", include("apps.api.scim.urls")),
    path(".well-known/authzen-configuration", AuthzenConfigurationApi.as_view(),
         name="authzen_configuration"),
]

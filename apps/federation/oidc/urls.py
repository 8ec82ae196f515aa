"""The OpenID Connect provider's endpoints, under /oauth2/, and its discovery document at the site
root (OIDC Discovery 1.0 section 4: /.well-known/openid-configuration appended to the issuer,
which is the portal's address). The namespace is DOT's, whose views reverse these names."""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as dot

from apps.federation.oidc import views

app_name = "oauth2_provider"
urlpatterns = [
    path(".well-known/openid-configuration", views.DiscoveryView.as_view(),
         name="oidc-connect-discovery-info"),
    path("oauth2/authorize/", views.authorize_view, name="authorize"),
    path("oauth2/token/", views.TokenView.as_view(), name="token"),
    path("oauth2/userinfo/", dot.UserInfoView.as_view(), name="user-info"),
    path("oauth2/jwks/", views.JwksView.as_view(), name="jwks-info"),
    path("oauth2/introspect/", views.IntrospectView.as_view(), name="introspect"),
    path("oauth2/revoke/", dot.RevokeTokenView.as_view(), name="revoke-token"),
    # GET and POST from e-services (RP-Initiated Logout 1.0 section 2), so no CSRF token; the
    # confirmation form posts to its own URL, which checks it.
    path("oauth2/logout/", csrf_exempt(views.LogoutView.as_view()), name="rp-initiated-logout"),
    path("oauth2/logout/confirm/", views.LogoutConfirmView.as_view(),
         name="rp-initiated-logout-confirm"),
]

from django.urls import path

from apps.authn import passkey_views, views

app_name = "authn"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/otp/", views.otp_view, name="otp"),
    path("login/enrol/", views.enrol_view, name="enrol"),
    path("invitation/<str:token>/", views.invitation_view, name="invitation"),
    path("login/lost-authenticator/", views.lost_authenticator_view, name="lost_authenticator"),
    path("login/commission/", views.commission_view, name="commission"),
    path("login/step-up/", views.step_up_view, name="step_up"),
    path("logout/", views.logout_view, name="logout"),
    *passkey_views.urlpatterns,
]

from django.apps import AppConfig


class AuthnConfig(AppConfig):
    name = "apps.authn"
    label = "authn"

"""Login checks. Authentication itself is Django's (password) and django-otp's (TOTP, RFC 6238)."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user
from django_otp.models import Device

from apps.core.errors import ValidationFailed
from apps.identities.models import User
from apps.identities.selectors import person_get_by_number


def password_check(request: HttpRequest, *, username: str, password: str) -> User:
    """The active staff account with these credentials. Raises ValidationFailed (one message for
    a wrong name or password, so accounts cannot be enumerated)."""
    user = authenticate(request, username=username, password=password)
    if user is None or not isinstance(user, User) or user.kind != User.Kind.STAFF:
        raise ValidationFailed(_("Wrong username or password."), code="login.failed")
    return user


def otp_check(user: User, token: str) -> Device:
    """The confirmed device of `user` that accepts `token` (each code works once: django-otp
    throttles failures, doubling the wait after each, and refuses reuse). Raises
    ValidationFailed (field `token`)."""
    for device in devices_for_user(user, confirmed=True):
        allowed, _details = device.verify_is_allowed()
        if not allowed:
            raise ValidationFailed(_("Too many wrong codes. Wait a minute and try again."),
                                   code="otp.throttled", field="token")
        if device.verify_token(token.strip()):
            return device
    raise ValidationFailed(_("The code is wrong or has expired. Wait for a new code and try "
                             "again."), code="otp.failed", field="token")


def patient_demo_user(person_number: str) -> User:
    """The patient account for a personnummer (demo login only). Raises ValidationFailed."""
    person = person_get_by_number(person_number)
    user = person and User.objects.filter(person=person, kind=User.Kind.PATIENT,
                                          is_active=True).first()
    if not user:
        raise ValidationFailed(_("No demo patient has this number."), code="login.no_patient",
                               field="person_number")
    return user

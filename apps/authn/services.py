"""Login checks. Authentication itself is Django's (password) and django-otp's (TOTP, RFC 6238).

Every login, step-up and failed attempt is audited (`login.succeeded`, `login.failed`,
`step_up.succeeded`, `step_up.failed`). The audit log is also what limits password guessing, so
every web process sees the same count: at most `MAX_FAILURES_PER_ACCOUNT` failures per username
from one address (so an attacker elsewhere cannot lock the owner out) and `MAX_FAILURES_PER_IP` per
address within `FAILURE_WINDOW_SECONDS` (OWASP ASVS 2.2.1: anti-automation). Unknown usernames are
counted and answered exactly like known ones, so the answers do not tell which accounts exist.

The steps before a session exists act as the anonymous actor; completing the login and a step-up
act as the user.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user
from django_otp.models import Device

from apps.audit import context
from apps.audit.models import AuditEvent
from apps.audit.services import atomic_record_failure, record
from apps.authn import audit, policies
from apps.core.assurance import StepUpProof, mint_step_up
from apps.core.calls import service
from apps.core.errors import ValidationFailed
from apps.identities.actors import Actor
from apps.identities.identifiers import fold_username
from apps.identities.models import User
from apps.identities.selectors import person_get_by_number

FAILURE_WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ACCOUNT = 10
MAX_FAILURES_PER_IP = 50


def _recent_failures(**lookup: object) -> int:
    since = timezone.now() - timedelta(seconds=FAILURE_WINDOW_SECONDS)
    return AuditEvent.objects.filter(action=audit.LOGIN_FAILED.code, occurred_at__gte=since,
                                     **lookup).count()


def _login_target(username: str) -> User:
    """An unsaved stand-in for an unknown username: its id is derived from the name, so failures
    against one unknown name are counted like those against a real account."""
    return User(id=uuid.uuid5(uuid.NAMESPACE_URL, f"login:{username}"), username=username[:150])


def _failed(actor: Actor, *, user: User | None, username: str, step: str) -> None:
    """Audit a failed `step` ("password", "otp" or "step_up"); an unknown username has no subject."""
    action = audit.STEP_UP_FAILED if step == "step_up" else audit.LOGIN_FAILED
    atomic_record_failure(actor=actor, action=action.code, target=user or _login_target(username),
                          subject=user.person if user else None,
                          changes={"username": [None, username[:150]], "step": [None, step]})


@service
def password_check(*, actor: Actor, request: HttpRequest, username: str, password: str) -> User:
    """The active staff account with these credentials; `actor` is the anonymous actor.

    Raises ValidationFailed: one message for a wrong name or password, so accounts cannot be
    enumerated (`login.failed`), and `login.throttled` after too many recent failures for the
    account or the address."""
    policies.require_anonymous(actor)
    username = fold_username(username)  # `ANNA.ADMIN` is `anna.admin`; a look-alike matches none
    known = User.objects.filter(username=username).first()
    ip = context.current().ip
    target_id = str((known or _login_target(username)).pk)
    if _recent_failures(target_id=target_id, ip=ip) >= MAX_FAILURES_PER_ACCOUNT or (
        ip and _recent_failures(ip=ip) >= MAX_FAILURES_PER_IP
    ):
        raise ValidationFailed(
            _("Too many failed logins. Wait 15 minutes and try again, or ask your administrator."),
            code="login.throttled",
        )
    user = authenticate(request, username=username, password=password)
    if user is None or not isinstance(user, User) or user.kind != User.Kind.STAFF:
        _failed(actor, user=known, username=username, step="password")
        raise ValidationFailed(_("Wrong username or password."), code="login.failed")
    return user


def _verify_otp(actor: Actor, user: User, token: str, *, step: str) -> Device:
    """The confirmed device of `user` that accepts `token` (each code works once: django-otp
    throttles failures, doubling the wait after each, and refuses reuse). A refusal is audited as
    a failed `step`. Raises ValidationFailed (field `token`)."""
    for device in devices_for_user(user, confirmed=True):
        allowed, _details = device.verify_is_allowed()
        if not allowed:
            _failed(actor, user=user, username=user.username, step=step)
            raise ValidationFailed(_("Too many wrong codes. Wait a moment and try again."),
                                   code="otp.throttled", field="token")
        if device.verify_token(token.strip()):
            return device
    _failed(actor, user=user, username=user.username, step=step)
    raise ValidationFailed(_("The code is wrong or has expired. Wait for a new code and try "
                             "again."), code="otp.failed", field="token")


@service
def otp_check(*, actor: Actor, user: User, token: str) -> Device:
    """The second login step for `user` (password already accepted); `actor` is the anonymous
    actor. Returns the device that accepted `token`; raises ValidationFailed (field `token`)."""
    policies.require_anonymous(actor)
    return _verify_otp(actor, user, token, step="otp")


@service
def login_succeeded(*, actor: User, loa: str | None, methods: list[str]) -> None:
    """Audit a completed login (`login.succeeded`), acting as the user who just logged in; the
    row carries the new session's level of assurance `loa`."""
    policies.require_self(actor, actor)
    with context.using(replace(context.current(), loa=loa)), transaction.atomic():
        record(actor=actor, action=audit.LOGIN_SUCCEEDED.code, target=actor, subject=actor.person,
               changes={"methods": [None, methods]})


@service
def step_up_verify(*, actor: User, token: str) -> StepUpProof:
    """Re-enter the second factor before a sensitive action. Returns a `StepUpProof` for the actor
    (apps.core.assurance: valid 5 minutes); audits `step_up.succeeded` or `step_up.failed`.
    Raises ValidationFailed (field `token`) like `otp_check`."""
    policies.require_self(actor, actor)
    _verify_otp(actor, actor, token, step="step_up")
    proof = mint_step_up(actor.pk, "otp")
    with transaction.atomic():
        record(actor=actor, action=audit.STEP_UP_SUCCEEDED.code, target=actor,
               subject=actor.person, changes={"method": [None, proof.method]})
    return proof


def patient_demo_user(person_number: str) -> User:
    """The patient account for a personnummer (demo login only). Raises ValidationFailed."""
    person = person_get_by_number(person_number)
    user = person and User.objects.filter(person=person, kind=User.Kind.PATIENT,
                                          is_active=True).first()
    if not user:
        raise ValidationFailed(_("No demo patient has this number."), code="login.no_patient",
                               field="person_number")
    return user

"""The staff member's own credentials ("Mitt konto"): change the password, replace the TOTP
authenticator, and the e-mail that tells the person either happened.

Both changes need the current second factor again (a code from the authenticator app now, or a
step-up proof at most 5 minutes old: NIST SP 800-63B rev. 4, 6.1.2.3 and 3.1.1.2, re-authenticate
before changing an authenticator), end every other session of the person (`_end_other_sessions`,
SP 800-63B rev. 4, 6.1.2.3: sessions of a replaced authenticator end) and publish an outbox event
whose handler e-mails the person (`account_notify`; SP 800-63B rev. 4, 6.1.2.3: notify the
subscriber of an authenticator change through an independent channel). Guessing the current
password is counted by django-axes like a login (`settings.LOGIN_FAILURE_LIMITS`); a wrong code
counts on the device's own django-otp throttle.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit.models import AuditEvent
from apps.audit.services import atomic_record_failure, record
from apps.authn import audit, passwords, policies, signals, totp_keys
from apps.authn.models import LoginObligation, TOTPDevice, UserSession
from apps.authn.services import (
    LOGIN_THROTTLED,
    OTP_REFUSALS,
    TOTP_KEY_BYTES,
    _delete_django_sessions,
    _spend_challenge,
    _verify_otp,
)
from apps.core.assurance import StepUpProof, is_fresh
from apps.core.calls import service
from apps.core.db import lock_names
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from apps.identities.actors import Actor
from apps.identities.changes import person_changed_publish
from apps.identities.models import Person, User
from apps.identities.registration import stored_text
from apps.outbox.mail import notice_send_once
from apps.outbox.services import publish

#: The outbox topics of an account change; `account_notify` e-mails the person for each.
PASSWORD_CHANGED_TOPIC = "password.changed"
OTP_DEVICE_REPLACED_TOPIC = "otp_device.replaced"
EMAIL_CHANGED_TOPIC = "contact.email_changed"
#: An issuer removed the person's authenticator apps, or gave them a one-time password
#: (`apps.authn.recovery`): told like the person's own changes, never with the password.
SECOND_FACTOR_RESET_TOPIC = "second_factor.reset"
PASSWORD_RESET_TOPIC = "password.reset"
ACCOUNT_TOPICS = (PASSWORD_CHANGED_TOPIC, OTP_DEVICE_REPLACED_TOPIC, EMAIL_CHANGED_TOPIC,
                  SECOND_FACTOR_RESET_TOPIC, PASSWORD_RESET_TOPIC)

SECOND_FACTOR_NEEDED = _("Enter the code from your authenticator app, or confirm it is you "
                         "first (within 5 minutes).")
WRONG_PASSWORD = _("Your current password is wrong.")
NEW_CODE_WRONG = _("The code from the new authenticator is wrong or has expired. Check that "
                   "the app shows the new account and try the next code.")
NO_NEW_DEVICE = _("Start again: the new authenticator was not set up or was already confirmed.")


def _require_staff_self(actor: Actor) -> User:
    """The actor as an active staff account acting on itself. Raises Forbidden."""
    if not isinstance(actor, User) or actor.kind != User.Kind.STAFF:
        raise Forbidden(_("Only staff accounts have a password and an authenticator here."),
                        code="forbidden")
    policies.require_self(actor, actor)
    return actor


def _check_current_password(actor: User, request: HttpRequest, password: str) -> None:
    """The actor's current password, counted by django-axes like a login attempt from this
    address (a wrong one is a failure; once a counter reached its limit the password is not
    checked). A wrong password is audited `step_up.failed` (step `password`). Raises
    ValidationFailed (field `current_password`; `password.wrong`, `login.throttled`)."""
    credentials = {"username": actor.username}
    with transaction.atomic():
        lock_names(f"login:username:{actor.username}")
        if not AxesProxyHandler.is_allowed(request, credentials):
            refusal = "login.throttled"
        elif authenticate(request, username=actor.username,
                          password=passwords.normalise(password)) is not None:
            return
        else:
            atomic_record_failure(actor=actor, action=audit.STEP_UP_FAILED.code, target=actor,
                                  subject=actor.person,
                                  changes={"step": [None, "password"]})
            refusal = ("login.throttled" if getattr(request, "axes_locked_out", False)
                       else "password.wrong")
    raise ValidationFailed(LOGIN_THROTTLED if refusal == "login.throttled" else WRONG_PASSWORD,
                           code=refusal, field="current_password")


def _require_current_factor(actor: User, token: str, step_up: StepUpProof | None) -> str:
    """How the actor proved their second factor just now: "step_up" for a fresh `step_up` proof
    of theirs (apps.core.assurance), else "otp" for a `token` one of their TOTP devices accepts.
    Raises ValidationFailed (field `token`): `second_factor.required`, or the refusals of
    `services._verify_otp` (audited `step_up.failed`)."""
    if step_up is not None and is_fresh(step_up, actor.pk):
        return "step_up"  # spent by the caller in its write (`_spend_if_step_up`)
    if not token.strip():
        raise ValidationFailed(SECOND_FACTOR_NEEDED, code="second_factor.required", field="token")
    _verify_otp(actor, actor, token, step="step_up")
    return "otp"


def _spend_if_step_up(method: str, proof: StepUpProof | None) -> None:
    """In the caller's write transaction: spend `proof` when it is what proved the factor."""
    if method == "step_up" and proof is not None:
        spend_step_up(proof, SECOND_FACTOR_NEEDED)


def spend_step_up(proof: StepUpProof | None, message: Any) -> None:
    """Record `proof` as used, so one step-up authorises one change even when a session sends
    the same request many times at once (apps.core.assurance: the nonce under a unique
    constraint, here `SpentChallenge`'s). Call it in the write's transaction, so a refused
    write leaves the proof unspent. Raises ValidationFailed (`second_factor.required`, `message`,
    field `token`) when it was used already (or is None)."""
    if proof is None:
        raise ValidationFailed(message, code="second_factor.required", field="token")
    try:
        _spend_challenge(f"step-up:{proof.nonce}".encode("ascii"))
    except ValidationFailed as exc:
        raise ValidationFailed(message, code="second_factor.required", field="token") from exc


def _end_other_sessions(actor: User, person: Person, keep_key_hash: str,
                        reason: str) -> int:
    """End every active session of `person` except the one whose key hashes to `keep_key_hash`
    (with `reason`, the credential that changed), in the caller's transaction, after it locked
    the person: the rows are locked in id order, their stored Django sessions deleted and
    `signals.session_ended` sent for each (apps.federation ends their tokens). Returns how many
    ended."""
    rows = list(UserSession.objects.select_for_update()
                .filter(user__person=person, ended_at__isnull=True)
                .exclude(key_hash=keep_key_hash).order_by("pk"))
    now = timezone.now()
    UserSession.objects.filter(pk__in=[row.pk for row in rows]).update(
        ended_at=now, end_reason=reason, updated_at=now)
    _delete_django_sessions([row.key_hash for row in rows])
    for row in rows:
        row.ended_at, row.end_reason = now, reason
        signals.session_ended.send(sender=UserSession, actor=actor, user_session=row,
                                   reason=reason)
    return len(rows)


def _publish_change(topic: str, user: User, **ids: str) -> None:
    """Record in the caller's transaction that `user`'s account changed (`topic`; `ids`, more
    ids for the handler), so the person is e-mailed once it commits. Each change is its own
    event."""
    change = uuid.uuid4()
    publish(topic=topic, payload={"user_id": str(user.pk), "change_id": str(change), **ids},
            key=f"{topic}:{change}")


@service
def current_password_check(*, actor: User, request: HttpRequest, password: str) -> None:
    """Check the staff member's current `password` on its own, as `password_change` does first
    (throttled and audited the same way), so a form refused for other reasons can say at once
    that it is wrong too (every form shows all its errors at once: docs/decisions.md, "My
    account"). Changes nothing. Raises Forbidden, ValidationFailed (`password.wrong`,
    `login.throttled` on `current_password`)."""
    _require_staff_self(actor)
    _check_current_password(actor, request, password)


@service
def password_change(*, actor: User, request: HttpRequest, current_password: str,
                    new_password: str, token: str = "", step_up: StepUpProof | None = None,
                    keep_key_hash: str = "") -> User:
    """Change the staff member's own password (NIST SP 800-63B rev. 4, 3.1.1.2).

    Needs the current password (`_check_current_password`, throttled by django-axes) and the
    second factor now (`token` from the authenticator app, or a fresh `step_up` proof). The new
    password is NFKC-normalised (`passwords.normalise`) and checked by
    `settings.AUTH_PASSWORD_VALIDATORS` against the account. Then, in one transaction (person,
    then account, then session rows locked): the password hash is replaced, every other session
    of the person ends (the one whose key hashes to `keep_key_hash` stays; the view renews its
    authentication hash), the e-mail is queued (`password.changed`) and `password.changed` is
    audited (how the factor was proved and how many sessions ended; never a password).

    Returns the account as saved. Raises Forbidden (not the actor's own staff account),
    ValidationFailed (`password.wrong`, `login.throttled` on `current_password`; the code's
    refusals and `second_factor.required` on `token`; `password.invalid` on `new_password`,
    every rule's message at once)."""
    _require_staff_self(actor)
    _check_current_password(actor, request, current_password)
    new = passwords.checked(new_password, actor, field="new_password")
    method = _require_current_factor(actor, token, step_up)
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=actor.person_id)
        _spend_if_step_up(method, step_up)
        user = User.objects.select_for_update().get(pk=actor.pk)
        user.set_password(new)
        user.save(update_fields=["password"])
        one_time, _deleted = LoginObligation.objects.filter(
            user=user, kind=LoginObligation.Kind.CHANGE_PASSWORD).delete()
        ended = _end_other_sessions(user, user.person, keep_key_hash,
                                    UserSession.EndReason.PASSWORD)
        _publish_change(PASSWORD_CHANGED_TOPIC, user)
        record(actor=actor, action=audit.PASSWORD_CHANGED.code, target=user,
               subject=user.person, changes={"second_factor": [None, method],
                                             "sessions_ended": [None, ended],
                                             "replaced_one_time_password": [None, bool(one_time)]})
    return user


@service
def totp_enrolment_start(*, actor: User) -> TOTPDevice:
    """Make a new, unconfirmed TOTP device (RFC 6238, a random key of TOTP_KEY_BYTES bytes,
    stored encrypted) for the staff member to add to their authenticator app. It proves nothing
    until `totp_device_replace` confirms it; a previous unconfirmed one is dropped. The current
    devices keep working. Audited `otp_device.started`. Raises Forbidden."""
    _require_staff_self(actor)
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=actor.person_id)
        TOTPDevice.objects.filter(user=actor, confirmed=False).delete()
        device = TOTPDevice.objects.create(
            user=actor, name="TOTP", confirmed=False,
            encrypted_key=totp_keys.encrypt(secrets.token_bytes(TOTP_KEY_BYTES)))
        record(actor=actor, action=audit.OTP_DEVICE_STARTED.code, target=device,
               subject=actor.person)
    return device


@service
def totp_device_replace(*, actor: User, new_token: str, token: str = "",
                        step_up: StepUpProof | None = None, keep_key_hash: str = "") -> TOTPDevice:
    """Replace the staff member's authenticator with the unconfirmed device of
    `totp_enrolment_start`.

    Needs the current second factor (`token` from the old app, or a fresh `step_up` proof, as
    `password_change`) and `new_token`, a code of the new device, which proves the app holds the
    new key before the old one stops working. Then, in one transaction (person, then the
    devices): the new device is confirmed, every other TOTP device of the account deleted, every
    other session of the person ended (not `keep_key_hash`'s), the e-mail queued
    (`otp_device.replaced`) and `otp_device.replaced` audited. Returns the new device.
    Raises Forbidden, ValidationFailed (`otp.new_wrong`, `otp.throttled` while the new device
    waits after a wrong code, `otp.no_pending` on `new_token`; the
    current factor's refusals on `token`)."""
    _require_staff_self(actor)
    method = _require_current_factor(actor, token, step_up)
    try:
        value = int(new_token.strip())
    except ValueError:
        value = -1
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=actor.person_id)
        devices = list(TOTPDevice.objects.select_for_update().filter(user=actor).order_by("pk"))
        new = next((d for d in reversed(devices) if not d.confirmed), None)
        if new is None:
            raise ValidationFailed(NO_NEW_DEVICE, code="otp.no_pending", field="new_token")
        allowed = new.verify_is_allowed()[0]  # django-otp's wait after a wrong code
        if not (value >= 0 and allowed and new.verify_token(value)):
            refused = True
        else:
            refused = False
            _spend_if_step_up(method, step_up)
            new.confirmed = True
            new.save(update_fields=["confirmed"])
            old = [d.pk for d in devices if d.pk != new.pk]
            TOTPDevice.objects.filter(pk__in=old).delete()
            ended = _end_other_sessions(actor, actor.person, keep_key_hash,
                                        UserSession.EndReason.AUTHENTICATOR)
            _publish_change(OTP_DEVICE_REPLACED_TOPIC, actor)
            record(actor=actor, action=audit.OTP_DEVICE_REPLACED.code, target=new,
                   subject=actor.person,
                   changes={"second_factor": [None, method], "devices_removed": [None, len(old)],
                            "sessions_ended": [None, ended]})
    if refused:  # the device's throttle counted the failure (django-otp) and was committed
        atomic_record_failure(actor=actor, action=audit.STEP_UP_FAILED.code, target=actor,
                              subject=actor.person, changes={"step": [None, "new_otp_device"]})
        if not allowed:
            raise ValidationFailed(OTP_REFUSALS["otp.throttled"], code="otp.throttled",
                                   field="new_token")
        raise ValidationFailed(NEW_CODE_WRONG, code="otp.new_wrong", field="new_token")
    return new


@service
def account_notify(*, actor: Actor, topic: str, user_id: str, notification_id: str,
                   change_event_id: str = "") -> bool:
    """E-mail the person that their password was changed, their authenticator replaced or
    their e-mail address changed, or that an issuer removed their authenticator app or gave them
    a one-time password (`topic`, one of ACCOUNT_TOPICS) at the address registered for
    them; for
    `contact.email_changed`, at the address the change replaced, read from the change's audit
    event `change_event_id` (NIST SP 800-63B rev. 4, 6.1.2.3: notify the subscriber of account
    changes; the old address is the one an intruder could not have chosen). Only the portal's
    own system actors send it; sent once per `notification_id` (the outbox event's id), through
    `apps.outbox.mail.notice_send_once`, audited `account.notified`. Returns False when there is
    no address to write to or it was sent already. Raises Forbidden, NotFound (unknown account
    or change event), ValueError (unknown topic) and the e-mail backend's errors (the outbox
    retries)."""
    policies.require_portal(actor)
    if topic not in ACCOUNT_TOPICS:
        raise ValueError(f"unknown account topic {topic!r}")
    user = User.objects.select_related("person").filter(pk=user_id).first()
    if user is None:
        raise NotFound()
    person = user.person
    to, context = person.email, {"person": person, "when": timezone.localtime()}
    if topic == EMAIL_CHANGED_TOPIC:
        # The old address, from the change's own audit event (the payload holds ids only).
        change = AuditEvent.objects.filter(pk=change_event_id, action=audit.EMAIL_CHANGED.code,
                                           target_id=str(person.pk)).first()
        if change is None:
            raise NotFound()
        to, context["when"] = change.changes["email"][0], timezone.localtime(change.occurred_at)
    if not to:
        return False
    return notice_send_once(
        actor=actor, action=audit.ACCOUNT_NOTIFIED.code, target=user, subject=person, to=to,
        template=topic.replace(".", "_"), context=context, notification_id=notification_id,
        changes={"topic": [None, topic]})


@service
def contact_email_change(*, actor: User, email: str, token: str = "",
                         step_up: StepUpProof | None = None) -> Person:
    """Change the e-mail address registered for the staff member themself: the one contact
    detail a person keeps up to date on their own (docs/decisions.md; names and identity numbers
    come from the population and HSA registers). It is where password and authenticator changes
    are reported, so it needs the second factor now, as `password_change`. `email` is checked by
    Django's EmailValidator (RFC 5322 addr-spec, as Django accepts it); an empty value removes the
    address. The address is stored NFKC-normalised, its length checked after normalising
    (`registration.stored_text`, as a joiner's). Audited `contact.email_changed` with the old and
    new address; the old address (if any) is e-mailed that it was replaced (`account_notify`,
    through the outbox). Raises Forbidden, ValidationFailed (`email.invalid`, `text.too_long` on
    `email`; the factor's refusals on `token`)."""
    from django.core.validators import validate_email

    _require_staff_self(actor)
    value = stored_text(Person, "email", email)
    if value:
        try:
            validate_email(value)
        except DjangoValidationError as exc:
            raise ValidationFailed(_("Enter a valid e-mail address, such as name@example.se."),
                                   code="email.invalid", field="email") from exc
    method = _require_current_factor(actor, token, step_up)
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=actor.person_id)
        _spend_if_step_up(method, step_up)
        old = person.email
        if old == value:
            return person
        person.email = value
        person.full_clean(validate_unique=False)
        person.save(update_fields=["email", "updated_at"])
        event = record(actor=actor, action=audit.EMAIL_CHANGED.code, target=person,
                       subject=person,
                       changes={"email": [old, value], "second_factor": [None, method]})
        person_changed_publish(event)
        if old:
            _publish_change(EMAIL_CHANGED_TOPIC, actor, change_event_id=str(event.pk))
    return person

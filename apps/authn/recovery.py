"""A lost authenticator or password, solved in person by an issuer (ID-administratör).

The issuer checks an identity document of the person in front of them (the reference
architecture's administrative process, as for issuing an e-ID: `apps.identities.documents`),
then either removes the person's authenticator app, so that their next password login enrols a
new one (`second_factor_reset`, `totp_enrol_at_login`), or gives them a one-time password that
must be changed at the next login before anything else and expires after a few days
(`one_time_password_set`, `settings.PORTAL_ONE_TIME_PASSWORD_SECONDS`). Either ends
every session of the person (NIST SP 800-63B rev. 4, 4.2.1 and 6.1.2.3: account recovery and
replacing a lost authenticator; the recovered account starts afresh). Only the document's type
and last four digits are recorded (in the audit event), never the full number, and never the
one-time password. The person is e-mailed that it was done, at their registered address, as for
their own changes (`account.account_notify`, through the outbox), never with the password.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit.services import atomic_record_failure, record
from apps.authn import audit, totp_keys
from apps.authn.account import (
    PASSWORD_RESET_TOPIC,
    SECOND_FACTOR_RESET_TOPIC,
    _publish_change,
    spend_step_up,
)
from apps.authn.models import LoginObligation, TOTPDevice
from apps.authn.services import OTP_REFUSALS, TOTP_KEY_BYTES
from apps.commissions import policies as commission_policies
from apps.commissions.models import Role
from apps.core.assurance import StepUpProof, check_step_up
from apps.core.calls import policy, service
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from apps.identities.actors import Actor
from apps.identities.documents import IdentityDocument, identity_document_check
from apps.identities.models import Person, User

STEP_UP_SPENT = _("Confirm it is you again: each change needs its own fresh login.")

#: Letters and digits that cannot be mistaken for each other on paper (no 0/O, 1/l/I).
ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
#: 4 groups of 4: 20 characters with spaces, about 79 bits, above the 15 characters SP 800-63B
#: rev. 4, 3.1.1.2 asks of a password that is the only factor.
ONE_TIME_GROUPS = 4


@dataclass(frozen=True)
class OneTimePassword:
    """What `one_time_password_set` gives the issuer: the `password` to hand over and when it
    stops working (`expires_at`, UTC)."""

    password: str
    expires_at: dt.datetime


@policy
def require_recover_for_other(actor: Actor, person: Person, *,
                              step_up: StepUpProof | None) -> None:
    """An issuer whose scope covers every one of `person`'s employee HSA-ids (the second factor and
    password are person-wide: `can_administer_person_wholly`, docs/decisions.md "Person-wide
    actions"), never for themself, with a
    fresh step-up at the level `settings.PORTAL_LOA_REQUIRED["issue_for_others"]` (the level of
    issuing e-IDs for others). Raises Forbidden (not an issuer; no fresh step-up), NotFound (the
    person is outside the issuer's scope, so existence does not leak)."""
    if not (isinstance(actor, User) and actor.is_active
            and commission_policies.scope_roots(actor, Role.ISSUER)):
        raise Forbidden(_("Only an e-ID issuer may do this."), code="forbidden")
    if actor.person_id == person.pk or not commission_policies.can_administer_person_wholly(
            actor, person, Role.ISSUER):
        raise NotFound()
    check_step_up(step_up, actor.pk, min_loa=settings.PORTAL_LOA_REQUIRED["issue_for_others"])


def _staff_accounts(person: Person) -> list[User]:
    """The person's staff accounts, locked (after the person), in id order. Raises
    ValidationFailed when there is none."""
    users = list(User.objects.select_for_update().filter(person=person, kind=User.Kind.STAFF,
                                                         is_active=True).order_by("pk"))
    if not users:
        raise ValidationFailed(_("This person has no staff login account."),
                               code="recovery.no_account")
    return users


def _document_changes(document: IdentityDocument) -> dict[str, list[object]]:
    return {"document_type": [None, document.type],
            "document_last_four": [None, document.last_four]}


@service
def second_factor_reset(*, actor: User, person: Person,
                        identity_document: IdentityDocument | None,
                        step_up: StepUpProof | None) -> int:
    """Remove the authenticator apps (TOTP devices) of `person`'s staff accounts after the issuer
    checked `identity_document`; each account's next password login enrols a new one
    (`LoginObligation.Kind.ENROL_TOTP`). Every session of the person ends (a new session epoch).
    Passkeys stay (a security key is not lost with a phone; the person removes one on My
    passkeys). Audited `second_factor.reset` per account, with the document's type and last
    four digits; the person is e-mailed (`second_factor.reset`). Returns how many devices were
    removed. Raises Forbidden, NotFound (see
    `require_recover_for_other`), ValidationFailed (`document.*`, `recovery.no_account`)."""
    require_recover_for_other(actor, person, step_up=step_up)
    document = identity_document_check(identity_document)
    removed = 0
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=person.pk)
        spend_step_up(step_up, STEP_UP_SPENT)
        for user in _staff_accounts(person):
            count, _deleted = TOTPDevice.objects.filter(user=user).delete()
            removed += count
            LoginObligation.objects.get_or_create(
                user=user, kind=LoginObligation.Kind.ENROL_TOTP,
                defaults={"set_by_label": actor.audit_label})
            _publish_change(SECOND_FACTOR_RESET_TOPIC, user)
            record(actor=actor, action=audit.SECOND_FACTOR_RESET.code, target=user,
                   subject=person, changes={**_document_changes(document),
                                            "devices_removed": [None, count]})
        User.objects.end_sessions(person)
    return removed


@service
def one_time_password_set(*, actor: User, person: Person,
                          identity_document: IdentityDocument | None,
                          step_up: StepUpProof | None) -> OneTimePassword:
    """Give `person`'s staff account a new random password after the issuer checked
    `identity_document`, to be handed over in person and changed at the next login before
    anything else (`LoginObligation.Kind.CHANGE_PASSWORD`). It works for
    `settings.PORTAL_ONE_TIME_PASSWORD_SECONDS` (7 days by default; docs/decisions.md "My
    account"): after `expires_at` the login is refused (`services.password_check`). Every session
    of the person ends. Returns the password (shown once; stored only as its hash, never
    audited) and its expiry. Audited `password.reset` with the document's type and last four
    digits and the expiry (UTC); the person is e-mailed that it was done, without the password
    (`password.reset`). Raises Forbidden, NotFound, ValidationFailed (`document.*`,
    `recovery.no_account`)."""
    require_recover_for_other(actor, person, step_up=step_up)
    document = identity_document_check(identity_document)
    password = " ".join("".join(secrets.choice(ONE_TIME_ALPHABET) for _ in range(4))
                        for _ in range(ONE_TIME_GROUPS))
    expires_at = timezone.now() + dt.timedelta(seconds=settings.PORTAL_ONE_TIME_PASSWORD_SECONDS)
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=person.pk)
        spend_step_up(step_up, STEP_UP_SPENT)
        for user in _staff_accounts(person):
            user.set_password(password)
            user.save(update_fields=["password"])
            LoginObligation.objects.update_or_create(
                user=user, kind=LoginObligation.Kind.CHANGE_PASSWORD,
                defaults={"set_by_label": actor.audit_label, "expires_at": expires_at})
            _publish_change(PASSWORD_RESET_TOPIC, user)
            record(actor=actor, action=audit.PASSWORD_RESET.code, target=user, subject=person,
                   changes={**_document_changes(document), "expires_at": [None, expires_at]})
        User.objects.end_sessions(person)
    return OneTimePassword(password=password, expires_at=expires_at)


def obligations_of(user: User) -> set[str]:
    """The `LoginObligation.Kind` values `user` must fulfil (a read)."""
    return set(LoginObligation.objects.filter(user=user).values_list("kind", flat=True))


ENROL = LoginObligation.Kind.ENROL_TOTP


@policy
def require_enrol_at_login(actor: Actor, user: User) -> None:
    """Enrolling at login: the account itself, whose password was just accepted (the login's
    first step; as `login.succeeded` names the account), when an issuer left it without an
    authenticator app. Anyone else, the anonymous actor included, is refused. Raises
    Forbidden."""
    if not (isinstance(actor, User) and actor.pk == user.pk and actor.is_active) or not (
            LoginObligation.objects.filter(user=user, kind=ENROL).exists()):
        raise Forbidden(_("There is no authenticator app to set up."), code="forbidden")


@service
def totp_enrol_at_login(*, actor: Actor, user: User, token: str = "") -> TOTPDevice:
    """At a password login whose account must enrol a new authenticator app (its password was
    just accepted; `actor` is that account, `user`): without `token`, the unconfirmed device to
    show (made once, with a random key of TOTP_KEY_BYTES bytes; audited `otp_device.started`);
    with `token`, confirm that device with its code (django-otp's throttling and single use,
    RFC 6238 5.2) and fulfil the obligation, audited `otp_device.created` (a wrong code:
    `login.failed`). Raises Forbidden (no such obligation), ValidationFailed (`otp.failed`;
    `otp.throttled` while the device waits after a wrong code; field `token`)."""
    require_enrol_at_login(actor, user)
    try:
        value = int(token.strip()) if token.strip() else None
    except ValueError:
        value = -1
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
        if device is None:
            device = TOTPDevice.objects.create(
                user=user, name="TOTP", confirmed=False,
                encrypted_key=totp_keys.encrypt(secrets.token_bytes(TOTP_KEY_BYTES)))
            record(actor=actor, action=audit.OTP_DEVICE_STARTED.code, target=device,
                   subject=user.person)
        if value is None:
            return device
        # django-otp makes a device wait after a wrong code (verify_is_allowed): a code typed
        # during the wait is not tried, and the person is told to wait, not that it is wrong.
        allowed = device.verify_is_allowed()[0]
        accepted = value >= 0 and allowed and device.verify_token(value)
        if accepted:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            LoginObligation.objects.filter(user=user, kind=ENROL).delete()
            record(actor=actor, action=audit.OTP_DEVICE_CREATED.code, target=device,
                   subject=user.person, changes={"at_login": [None, True]})
    if not accepted:
        atomic_record_failure(actor=actor, action=audit.LOGIN_FAILED.code, target=user,
                              subject=user.person, changes={"step": [None, "otp_enrol"]})
        refusal = "otp.failed" if allowed else "otp.throttled"
        raise ValidationFailed(OTP_REFUSALS[refusal], code=refusal, field="token")
    return device

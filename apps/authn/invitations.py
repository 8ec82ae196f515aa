"""A joiner's e-mailed enrolment invitation: choosing the first password (docs/journey-joiner.md).

The link's token proves possession of the invitation sent to the person's registered contact, so
the account it names is the actor (no login yet). Spending it sets the password and obliges the
first password login to enrol an authenticator app (`LoginObligation.Kind.ENROL_TOTP`, the flow of
`recovery.totp_enrol_at_login`), so the password is never the only factor: NIST SP 800-63B rev. 4,
3.1.1.2 items 2 and 3 then ask for at least 8 characters (`passwords.SecondFactorLengthValidator`).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit.services import record
from apps.authn import audit, passwords
from apps.authn.models import LoginObligation
from apps.commissions.models import Enrolment
from apps.core.calls import policy, service
from apps.core.errors import NotFound
from apps.identities.actors import Actor
from apps.identities.models import Person, User

INVITATION_NOT_VALID = _("This invitation link does not work any more: it has been used, has "
                         "expired or was replaced by a newer one. Ask your administrator to send "
                         "a new invitation.")


@policy
def require_invitation_holder(actor: Actor, token: str) -> None:
    """The actor is the account that the open, unexpired invitation `token` was sent for.
    Raises NotFound otherwise (one answer for unknown, used and someone else's)."""
    digest = Enrolment.token_digest(token)
    if not (isinstance(actor, User) and Enrolment.objects.filter(
            token_hash=digest, user=actor, done_at__isnull=True, ended_at__isnull=True,
            expires_at__gt=timezone.now()).exists()):
        raise NotFound(INVITATION_NOT_VALID, code="invitation.not_valid")


@service
def invitation_accept(*, actor: User, token: str, password: str) -> User:
    """Spend the invitation `token` of `actor`'s account: set the password (NFKC, validated by
    `AUTH_PASSWORD_VALIDATORS` as for an account with a second factor, since the obligation to
    enrol one is set in the same transaction) and oblige the first login to enrol an
    authenticator app. Audited `invitation.accepted` with the account as actor.

    Single use: the person, the account and the invitation are locked in that order
    (docs/architecture.md, "Lock order") and the invitation is checked again under the lock, so of
    two submissions one wins and the other gets `invitation.not_valid`. Raises NotFound
    (`invitation.not_valid`: unknown, used, ended, expired), Forbidden (`account.inactive`: the
    account was deactivated; `@service`), ValidationFailed (field `password`: the validators'
    messages)."""
    require_invitation_holder(actor, token)
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=actor.person_id)
        user = User.objects.select_for_update().get(pk=actor.pk)
        enrolment = Enrolment.objects.select_for_update().filter(
            token_hash=Enrolment.token_digest(token), user=user, done_at__isnull=True,
            ended_at__isnull=True, expires_at__gt=timezone.now()).first()
        if enrolment is None or not user.is_active:
            raise NotFound(INVITATION_NOT_VALID, code="invitation.not_valid")
        LoginObligation.objects.get_or_create(
            user=user, kind=LoginObligation.Kind.ENROL_TOTP,
            defaults={"set_by_label": enrolment.created_by_label})
        password = passwords.checked(password, user, field="password")
        user.set_password(password)
        user.save(update_fields=["password"])
        enrolment.done_at = timezone.now()
        enrolment.save(update_fields=["done_at", "updated_at"])
        record(actor=user, action=audit.INVITATION_ACCEPTED.code, target=enrolment,
               subject=user.person, changes={"done_at": [None, enrolment.done_at.isoformat()]})
    return user

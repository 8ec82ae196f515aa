"""Who may issue activation codes, redeem them, and revoke mobile e-IDs. Deny by default.

- A staff member issues a code for themself (self-service with inherited identification) with a
  fresh step-up proof (apps.core.assurance).
- An issuer (ID-administratör: an active `Role.ISSUER` over the organisation subtree holding one of
  the person's employee HSA-ids) issues codes for other staff after checking an identity document,
  with a fresh step-up proof of their own, and revokes any e-ID of a person in scope.
- The owner revokes their own e-IDs; a local administrator in scope revokes them when the account
  is deactivated, and ends a person's open codes when the entitlement ends.
- A mobile app (the device actor) redeems a code: the code itself is its credential.
- The portal's system actors (operator commands, the worker) pass.
- Only the portal's system actors publish CRLs (the issuing CA acting on its own schedule, after
  a revocation, or when the CRL endpoint finds the stored CRL out of date).
Outside scope the answer is NotFound, so existence never leaks.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.commissions import policies as commission_policies
from apps.commissions.models import Commission, Role, RoleAssignment
from apps.core.actors import ClientSystem, SystemActor, is_operator
from apps.core.assurance import StepUpProof, check_step_up
from apps.core.calls import policy
from apps.core.errors import Forbidden, NotFound
from apps.identities.actors import Actor
from apps.identities.models import Person, User
from apps.issuance.models import MobileEID


def is_staff_person(person: Person) -> bool:
    """True when the person is a working staff member: an employee HSA-id with an active
    commission, or an active system role (someone who has left keeps neither)."""
    now = timezone.now()
    return Commission.objects.active_at(now).filter(employee__person=person).exists() or (
        RoleAssignment.objects.active_at(now).filter(person=person).exists()
    )


def is_issuer(actor: Actor) -> bool:
    """True when the actor has an active issuer role anywhere (system: always)."""
    return bool(commission_policies.scope_roots(actor, Role.ISSUER))


def can_issue_for_other(actor: Actor, person: Person) -> bool:
    """An issuer whose scope covers every one of the person's employee HSA-ids, never for
    themself (e-IDs are person-wide: docs/decisions.md, "Person-wide actions")."""
    if not isinstance(actor, User) or actor.person_id == person.pk:
        return False
    return commission_policies.can_administer_person_wholly(actor, person, Role.ISSUER)


def issues_for_other(actor: Actor, person: Person) -> bool:
    """True when a user acts for someone else (the administrative process)."""
    return isinstance(actor, User) and actor.person_id != person.pk


@policy
def require_issue_code(actor: Actor, person: Person, *, step_up: StepUpProof | None,
                       with_document: bool) -> None:
    """Self-service (own code, fresh step-up, no document), an issuer for someone in scope (fresh
    step-up; the service checks the document), or the operator. The step-up must be at least at
    `settings.PORTAL_LOA_REQUIRED["self_issuance"]` or `["issue_for_others"]` (LoA 3 by
    default). Raises Forbidden (`issue.self_as_issuer`, `step_up_required`) or NotFound (not an
    issuer over the person)."""
    if is_operator(actor):
        return
    if not isinstance(actor, User):
        raise NotFound()
    if actor.person_id == person.pk:
        if with_document:
            raise Forbidden(_("Issuers cannot issue codes for themselves; use My e-IDs."),
                            code="issue.self_as_issuer")
        purpose = "self_issuance"
    elif not can_issue_for_other(actor, person):
        raise NotFound()
    else:
        purpose = "issue_for_others"
    # Inherited identification: a new credential only after a fresh login at the level the
    # deployment asks for (settings.PORTAL_LOA_REQUIRED; docs/authentication.md).
    check_step_up(step_up, actor.pk, min_loa=settings.PORTAL_LOA_REQUIRED[purpose])


def can_revoke_eid(actor: Actor, eid: MobileEID) -> bool:
    """The owner, the operator, or an issuer or local administrator (or an HR system,
    `ClientSystem`, over its organisation's subtree) who may take person-wide things of the owner
    away (`commissions.policies.can_take_away_person_wide`: wholly in scope,
    or in scope while the owner holds nothing active anywhere; docs/decisions.md, "Person-wide
    actions")."""
    if is_operator(actor):
        return True
    if isinstance(actor, User) and actor.person_id == eid.person_id:
        return True
    if not isinstance(actor, User | ClientSystem):
        return False
    return any(commission_policies.can_take_away_person_wide(actor, eid.person, role)
               for role in (Role.ISSUER, Role.LOCAL_ADMIN))


@policy
def require_revoke_eid(actor: Actor, eid: MobileEID) -> None:
    """NotFound unless `can_revoke_eid`."""
    if not can_revoke_eid(actor, eid):
        raise NotFound()


@policy
def require_rename_eid(actor: Actor, eid: MobileEID) -> None:
    """Only the e-ID's owner names its device (an active account of theirs). Raises NotFound
    otherwise, as for someone else's e-ID."""
    if not (isinstance(actor, User) and actor.is_active and actor.person_id == eid.person_id):
        raise NotFound()


@policy
def require_end_codes(actor: Actor, person: Person) -> None:
    """The operator, or a local administrator or issuer (or an HR system, `ClientSystem`, over
    its organisation's subtree) who may take person-wide things of the person away
    (`commissions.policies.can_take_away_person_wide`). NotFound otherwise."""
    if is_operator(actor):
        return
    if isinstance(actor, User | ClientSystem) and any(
        commission_policies.can_take_away_person_wide(actor, person, role)
        for role in (Role.LOCAL_ADMIN, Role.ISSUER)
    ):
        return
    raise NotFound()


@policy
def require_redeem_code(actor: Actor) -> None:
    """A device presenting a code (or the operator). Raises Forbidden for anyone else: a logged-in
    user never redeems through a page."""
    if is_operator(actor) or (isinstance(actor, SystemActor) and actor.kind == "device"):
        return
    raise Forbidden(_("Only the mobile app redeems activation codes."), code="forbidden")


@policy
def require_notify(actor: Actor) -> None:
    """Only the portal's own system actors (the worker) send notifications. Forbidden otherwise."""
    if not is_operator(actor):
        raise Forbidden(_("Only the portal sends notifications."), code="forbidden")


def can_publish_crl(actor: Actor) -> bool:
    """Only the portal's system actors (no person signs CRLs)."""
    return is_operator(actor)


@policy
def require_publish_crl(actor: Actor) -> None:
    """Forbidden unless `can_publish_crl`."""
    if not can_publish_crl(actor):
        raise Forbidden(_("Only the issuing CA publishes revocation lists."), code="crl.forbidden")


@policy
def require_start_mobile_eid_login(actor: Actor) -> None:
    """Someone not logged in yet starts a login (or the operator). Forbidden otherwise."""
    if is_operator(actor) or (isinstance(actor, SystemActor) and actor.kind == "anonymous"):
        return
    raise Forbidden(_("Log out before logging in again."), code="forbidden")


@policy
def require_answer_mobile_eid_login(actor: Actor) -> None:
    """The mobile app (the device actor) approves or denies; its proof is the signature over the
    challenge, checked by the service. Forbidden for anyone else."""
    if is_operator(actor) or (isinstance(actor, SystemActor) and actor.kind == "device"):
        return
    raise Forbidden(_("Only the mobile app answers login requests."), code="forbidden")


def can_step_up_with_mobile_eid(actor: Actor) -> bool:
    """True when `actor` is an active staff account whose person is a working staff member
    with an active mobile e-ID within its validity (the step-up page offers it then)."""
    if not isinstance(actor, User) or not actor.is_active or actor.kind != User.Kind.STAFF:
        return False
    now = timezone.now()
    return MobileEID.objects.filter(person_id=actor.person_id, status=MobileEID.Status.ACTIVE,
                                    not_before__lte=now, not_after__gt=now).exists() and (
        is_staff_person(actor.person))


@policy
def require_start_mobile_eid_step_up(actor: Actor) -> None:
    """A logged-in staff member with an active mobile e-ID confirms it is them (step-up) with
    it (`can_step_up_with_mobile_eid`). Forbidden otherwise."""
    if can_step_up_with_mobile_eid(actor):
        return
    raise Forbidden(_("You have no mobile e-ID that can be used."), code="forbidden")

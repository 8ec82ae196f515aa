"""Writes of federated login: accepting an IdP's response, linking federated identities, and
keeping each IdP's configuration and metadata.

All act as the portal's SAML2 service provider (`actors.SAML_SP`), which only code the portal
runs on a verified assertion or on its own schedule can be.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit.services import atomic_record_failure, record
from apps.core.calls import service
from apps.core.db import lock_names
from apps.federation import audit, metadata, policies, saml
from apps.federation.attributes import FederatedAttributes, map_attributes
from apps.federation.models import (
    AcceptedAssertion,
    AuthnRequestState,
    FederatedIdentity,
    IdentityProvider,
)
from apps.identities.actors import Actor
from apps.identities.models import IdentityNumber, Person, User
from apps.identities.services import person_create, user_create

#: Refusals the person can act on, shown on the completion page (the others say "start again").
REFUSALS: dict[str, Any] = {
    "staff.unknown": _("You are not registered as staff in the portal."),
    "account.inactive": _("Your account in the portal is deactivated."),
    "person.missing_number": _("Your e-ID did not tell the portal your personal identity number."),
    "person.mismatch": _("Your e-ID gave another personal identity number than before."),
    "saml.loa_weaker": _("Your e-ID login was not strong enough for this."),
    "saml.loa_unknown": _("Your e-ID provider did not say how strongly you logged in."),
    "saml.replayed": _("This login answer was used already."),
    "step_up.other_person": _("You confirmed your identity as another person than the one "
                              "logged in."),
}


class _Refusal(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _refuse(actor: Actor, state: AuthnRequestState | None, idp: IdentityProvider | None,
            code: str) -> None:
    """Mark the request failed (when known) and audit the refused response, in one transaction."""
    with transaction.atomic():
        if state is not None:
            AuthnRequestState.objects.filter(
                pk=state.pk, status=AuthnRequestState.Status.PENDING).update(
                status=AuthnRequestState.Status.FAILED, error=code)
    if idp is not None:
        atomic_record_failure(actor=actor, action=audit.RESPONSE_REFUSED.code, target=idp,
                              changes={"reason": [None, code]})


@service
def assertion_accept(*, actor: Actor, saml_response: str) -> AuthnRequestState | None:
    """Verify an IdP's HTTP-POST `SAMLResponse` (base64) and record the outcome on the request it
    answers (`flow.complete` then logs the browser in). Returns that request's state, or None
    when the response answers no request of ours (unsolicited, unknown, expired or malformed: the
    caller shows a "start again" page).

    Checks (docs/authentication.md, "Security of the response"): the envelope (`saml.envelope`), a
    pending, unexpired request of ours, the IdP's good metadata, pysaml2's verification
    (`saml.verify`; for a step-up, sent with ForceAuthn, an authentication made after the
    request: `saml.not_fresh`), the assertion ID never accepted before (`AcceptedAssertion`, kept
    until NotOnOrAfter plus skew: `saml.replayed`), then the account (`federated_login`). Every refusal
    is audited as `saml_response.refused` with its code; a refused request cannot be answered
    again.

    Lock order (`apps.federation.flow`): the request state row (`SELECT ... FOR UPDATE`), then
    the `AcceptedAssertion` insert, then the account's rows. A copy that waited for the lock finds
    the request answered and is refused as `saml.replayed`; one that read it answered before
    verifying answers None.
    """
    policies.require_service_provider(actor)
    try:
        envelope = saml.envelope(saml.decode(saml_response))
    except saml.Refused:
        return None
    now = timezone.now()
    state = (AuthnRequestState.objects.select_related("idp")
             .filter(request_id=envelope.in_response_to[:100]).first())
    if state is None or state.status != AuthnRequestState.Status.PENDING or state.expires_at <= now:
        return None
    idp = state.idp
    if not idp.metadata_xml or (idp.metadata_valid_until and idp.metadata_valid_until <= now):
        _refuse(actor, state, idp, "saml.idp_unusable")
        return state
    try:
        verified = saml.verify(saml_response, metadata_xml=idp.metadata_xml,
                               idp_entity_id=idp.entity_id, request_id=state.request_id,
                               requested_loa=state.requested_loa or None,
                               authn_not_before=(state.created_at if state.purpose == "step_up"
                                                 else None))
    except saml.Refused as exc:
        _refuse(actor, state, idp, exc.code)
        return state
    try:
        with transaction.atomic():
            locked = AuthnRequestState.objects.select_for_update().get(pk=state.pk)
            if locked.status != AuthnRequestState.Status.PENDING:
                raise _Refusal("saml.replayed")
            try:
                with transaction.atomic():
                    AcceptedAssertion.objects.create(
                        idp_entity_id=idp.entity_id, assertion_id=verified.assertion_id[:200],
                        keep_until=verified.keep_until)
            except IntegrityError as exc:
                raise _Refusal("saml.replayed") from exc
            user = _account(actor, idp, verified.name_id, map_attributes(verified.attributes))
            if locked.step_up_user_id is not None and locked.step_up_user_id != user.pk:
                raise _Refusal("step_up.other_person")
            locked.status = AuthnRequestState.Status.ANSWERED
            locked.user = user
            locked.loa = verified.loa
            locked.name_id = verified.name_id_xml
            locked.session_index = verified.session_index[:200]
            locked.save(update_fields=["status", "user", "loa", "name_id", "session_index"])
            return locked
    except _Refusal as exc:
        _refuse(actor, state, idp, exc.code)
        return state


def _person_by_number(attributes: FederatedAttributes) -> Person | None:
    if attributes.person is None:
        return None
    number = (IdentityNumber.objects.select_related("person")
              .filter(root=attributes.person.root, extension=attributes.person.extension).first())
    return number.person if number else None


def _account(actor: Actor, idp: IdentityProvider, subject: str,
             attributes: FederatedAttributes) -> User:
    """The account this identity logs into (see `federated_login`); raises _Refusal."""
    link = (FederatedIdentity.objects.select_related("user__person")
            .filter(idp_entity_id=idp.entity_id, subject=subject[:1024]).first())
    if link is not None:
        person = _person_by_number(attributes)
        if attributes.person is not None and (person is None or person.pk != link.user.person_id):
            raise _Refusal("person.mismatch")
        if not link.user.is_active:
            raise _Refusal("account.inactive")
        link.last_login_at = timezone.now()
        link.save(update_fields=["last_login_at"])
        return link.user
    return federated_login(actor=actor, idp=idp, subject=subject, attributes=attributes)


@service
def federated_login(*, actor: Actor, idp: IdentityProvider, subject: str,
                    attributes: FederatedAttributes) -> User:
    """Link a first-seen federated identity (IdP entityID, `subject`) to an account, found by the
    canonical identity number of `attributes` (never by a raw attribute value).

    A staff IdP logs into the person's active staff account; staff are never created by a login
    (an administrator registers them): raises _Refusal `staff.unknown` / `account.inactive`. A
    patient IdP logs into the person's patient account, registering the person and the account on
    the first login (audited by `identities.services`). Raises _Refusal `person.missing_number`
    when the assertion carries no valid identity number. Audits `federated_identity.linked`.
    Lock order: the request state row (`assertion_accept`), then the advisory lock named by the
    identity number, then the rows written here.
    """
    policies.require_service_provider(actor)
    if attributes.person is None:
        raise _Refusal("person.missing_number")
    with transaction.atomic():
        # Two first logins of one person at once (two browsers, or a staff and a citizen IdP) are
        # serialised, so one registers the person and links, and the other finds both.
        lock_names(f"federation:person:{attributes.person.root}:{attributes.person.extension}")
        link = FederatedIdentity.objects.select_related("user").filter(
            idp_entity_id=idp.entity_id, subject=subject[:1024]).first()
        if link is not None:
            return link.user
        person = _person_by_number(attributes)
        if idp.accounts == IdentityProvider.Accounts.STAFF:
            staff = (User.objects.filter(person=person, kind=User.Kind.STAFF).first()
                     if person else None)
            if staff is None:
                raise _Refusal("staff.unknown")
            if not staff.is_active:
                raise _Refusal("account.inactive")
            user = staff
        else:
            if person is None:
                # Names as the IdP gives them, cut to what a person's name holds (100).
                person = person_create(
                    actor=actor, given_name=(attributes.given_name or "-")[:100],
                    family_name=(attributes.surname or "-")[:100],
                    person_number=attributes.person.extension)
            user = (User.objects.filter(person=person, kind=User.Kind.PATIENT).first()
                    or user_create(actor=actor, person=person, kind=User.Kind.PATIENT,
                                   username=f"patient-{person.pk.hex[:20]}"))
            if not user.is_active:
                raise _Refusal("account.inactive")
        FederatedIdentity.objects.create(idp_entity_id=idp.entity_id, subject=subject[:1024],
                                         user=user, last_login_at=timezone.now())
        record(actor=actor, action=audit.IDENTITY_LINKED.code, target=user, subject=user.person,
               changes={"idp": [None, idp.entity_id]})
    return user


def _cert(entry: dict[str, str]) -> str:
    """The PEM text of an IdP's metadata certificate (`metadata_cert_file`), "" when none is
    configured, `metadata.CERT_UNREADABLE` when the file cannot be read (every copy is then
    refused, never accepted unsigned)."""
    path = entry.get("metadata_cert_file", "")
    try:
        return Path(path).read_text() if path else ""
    except OSError:
        return metadata.CERT_UNREADABLE


@service
def idps_configure(*, actor: Actor) -> list[IdentityProvider]:
    """Bring the IdentityProvider rows in line with `settings.SAML_IDPS` (the deployment's list:
    `entity_id`, `name`, `name_sv`, `accounts` staff|patient, `metadata_url` or `metadata_file`,
    `metadata_cert` PEM text); IdPs no longer listed are disabled, never deleted. Audits
    `idp_metadata.refreshed` for each IdP whose configuration changed. Returns the enabled ones."""
    policies.require_service_provider(actor)
    configured = {entry["entity_id"]: (index, entry)
                  for index, entry in enumerate(settings.SAML_IDPS)}
    enabled: list[IdentityProvider] = []
    with transaction.atomic():
        for idp in IdentityProvider.objects.select_for_update().exclude(
                entity_id__in=configured).filter(enabled=True):
            idp.enabled = False
            idp.save(update_fields=["enabled", "updated_at"])
            record(actor=actor, action=audit.METADATA_REFRESHED.code, target=idp,
                   changes={"enabled": [True, False]})
        for entity_id, (index, entry) in configured.items():
            wanted = {"name": entry["name"], "name_sv": entry.get("name_sv", ""),
                      "accounts": entry["accounts"], "position": index, "enabled": True,
                      "metadata_url": entry.get("metadata_url", ""),
                      "metadata_file": entry.get("metadata_file", ""),
                      "metadata_cert": _cert(entry)}
            found = IdentityProvider.objects.select_for_update().filter(entity_id=entity_id).first()
            if found is None:
                idp = IdentityProvider.objects.create(entity_id=entity_id, **wanted)
                changes = {key: [None, value] for key, value in wanted.items()
                           if key != "metadata_cert"}
            else:
                idp = found
                changes = {key: [getattr(idp, key), value] for key, value in wanted.items()
                           if getattr(idp, key) != value and key != "metadata_cert"}
                if idp.metadata_cert != wanted["metadata_cert"]:
                    changes["metadata_cert"] = ["…", "…"]
                for key, value in wanted.items():
                    setattr(idp, key, value)
                if changes:
                    idp.save()
            if changes:
                record(actor=actor, action=audit.METADATA_REFRESHED.code, target=idp,
                       changes=changes)
            enabled.append(idp)
    return enabled


@service
def idp_metadata_refresh(*, actor: Actor, idp: IdentityProvider,
                         now: dt.datetime | None = None) -> IdentityProvider:
    """Fetch and check `idp`'s metadata (`apps.federation.metadata.check`). A good copy replaces
    the stored one (state `ok`); a refused or unreachable one leaves the last good copy in place
    (state `refused` or `unreachable`, the reason in `metadata_error`). A change of copy or state
    is audited (`idp_metadata.refreshed`, or `idp_metadata.refused` as a failure)."""
    policies.require_service_provider(actor)
    now = now or timezone.now()
    state, error, good = IdentityProvider.State.OK, "", None
    try:
        body = metadata.fetch(url=idp.metadata_url, path=idp.metadata_file)
        good = metadata.check(body, entity_id=idp.entity_id, cert_pem=idp.metadata_cert, now=now)
    except metadata.MetadataRefused as exc:
        state = (IdentityProvider.State.UNREACHABLE if exc.code == "metadata.unreachable"
                 else IdentityProvider.State.REFUSED)
        error = f"{exc.code}: {exc.detail}".strip(": ")[:2000]
    with transaction.atomic():
        locked = IdentityProvider.objects.select_for_update().get(pk=idp.pk)
        before = (locked.metadata_state, locked.metadata_xml)
        locked.metadata_tried_at = now
        locked.metadata_error = error
        if good is not None:
            locked.metadata_xml, locked.metadata_valid_until = good.xml, good.valid_until
            locked.metadata_fetched_at = now
        locked.metadata_state = state if (good is not None or locked.metadata_xml) else (
            IdentityProvider.State.MISSING if state == IdentityProvider.State.OK else state)
        locked.save()
        if (locked.metadata_state, locked.metadata_xml) != before:
            changes: dict[str, list[Any]] = {"state": [before[0], locked.metadata_state]}
            if good is None:
                changes["reason"] = [None, error[:200]]
                record(actor=actor, action=audit.METADATA_REFUSED.code, target=locked,
                       changes=changes, outcome="failure")
            else:
                record(actor=actor, action=audit.METADATA_REFRESHED.code, target=locked,
                       changes=changes)
    return locked

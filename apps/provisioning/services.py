"""Writes of the provisioning administration (docs/provisioning.md, "Administering downstream
systems"): an organisation's local administrators register and change its downstream systems,
pause and enable them, retry or skip a job, and start a reconciliation. Each service checks its
policy (`apps.provisioning.policies`), runs in one transaction and writes one audit event with the
same actor, never with a credential in it.

Lock order (`apps.provisioning.models`; docs/provisioning.md, "Lock order"): system → remote user
→ job. These services lock the system (change, pause, enable, reconciliation start) or one job
(retry, skip), never more, so they never wait in a circle with the push worker.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx2
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit.services import AuditTarget, record
from apps.commissions.policies import require_operator
from apps.core.calls import service
from apps.core.errors import ValidationFailed
from apps.identities.actors import Actor, actor_id
from apps.identities.identifiers import IdentifierError, normalise_text
from apps.organisations.models import Organisation
from apps.provisioning import audit, credentials, errors, policies, tasks
from apps.provisioning.models import (
    AccessTokenCache,
    DownstreamSystem,
    ProvisioningJob,
    ReconciliationRun,
)

#: Longest SCIM base URL or token URL (the model's column).
URL_MAX = 500
#: Longest bearer token or client secret accepted (a JWT access token fits).
SECRET_MAX = 4096
#: Longest OAuth2 client id accepted.
CLIENT_ID_MAX = 200
#: Longest reason for skipping a job (the audit event keeps it).
REASON_MAX = 1000
#: RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: RFC 6749 Appendix A: client-id and client-secret are `*VSCHAR` (%x20-7E).
VSCHARS = re.compile(r"[\x20-\x7e]+")
#: RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
#: Attribute group codes a system may receive (`DownstreamSystem.ATTRIBUTE_CHOICES`), in order.
ATTRIBUTES = tuple(code for code, _label in DownstreamSystem.ATTRIBUTE_CHOICES)


def _url(value: str, *, field: str, query_allowed: bool = False) -> str:
    """An absolute https URL as stored (surrounding spaces and, for a SCIM base URL, a trailing
    "/" removed). http only on a loopback host (127.0.0.0/8, ::1, localhost) or with
    settings.DEBUG (a developer's own target). Refused, with `field`: no user name or password
    (credentials have their own fields and are stored encrypted; RFC 3986 §3.2.1 deprecates them
    in URIs), no fragment, no query where `query_allowed` is False (RFC 7644 §3.1 base URL; a
    token endpoint may have one, RFC 6749 §3.2), printable ASCII only (RFC 3986 §2)."""
    url = value.strip()
    invalid = ValidationFailed(
        _("Enter an absolute address starting with https://, without spaces."),
        code="downstream_system.url_invalid", field=field)
    if not url or len(url) > URL_MAX or not url.isascii() or any(
            ord(c) <= 32 or ord(c) == 127 for c in url):
        raise invalid
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
        httpx2.URL(url)  # the worker's HTTP client must accept it too
    except (ValueError, httpx2.InvalidURL):
        raise invalid from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise invalid
    if _forbidden_host(parts.hostname):
        raise ValidationFailed(
            _("The address cannot be a link-local, unspecified or cloud metadata address."),
            code="downstream_system.url_host", field=field)
    if "@" in parts.netloc:
        raise ValidationFailed(
            _("The address cannot contain a user name or password: enter the credentials in "
              "their own fields, where they are stored encrypted."),
            code="downstream_system.url_credentials", field=field)
    if "#" in url or ("?" in url and not query_allowed):
        raise ValidationFailed(
            _("The address cannot have a fragment (#…).") if query_allowed else
            _("The address cannot have a query (?…) or a fragment (#…)."),
            code="downstream_system.url_query", field=field)
    if parts.scheme == "http" and not (settings.DEBUG or _loopback(parts.hostname)):
        raise ValidationFailed(
            _("The address must use https (http only on this computer: 127.0.0.1, [::1] or "
              "localhost)."),
            code="downstream_system.url_scheme", field=field)
    return url if query_allowed else url.rstrip("/")


#: The cloud providers' instance metadata services (AWS IMDS over IPv6; the IPv4 ones are
#: link-local, 169.254.169.254), where a worker's own cloud credentials can be read.
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("fd00:ec2::254")})


def _forbidden_host(host: str) -> bool:
    """Whether `host`, an IP address literal, is link-local (169.254.0.0/16, RFC 3927;
    fe80::/10, RFC 4291 §2.5.6), unspecified (0.0.0.0, ::) or a metadata address, also in its
    IPv4-mapped form (::ffff:a.b.c.d, RFC 4291 §2.5.5.2): a server-side request forgery target
    (OWASP SSRF prevention). A host name is not resolved here (the DNS rebinding risk left is
    in docs/decisions.md, "Downstream system addresses")."""
    try:
        address = ipaddress.ip_address(unquote(host).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_link_local or address.is_unspecified or address in METADATA_ADDRESSES


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a stored URL: where a credential sent to it goes."""
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port


def _name(value: str) -> str:
    try:
        name = normalise_text(value, 200)
    except IdentifierError as exc:
        raise ValidationFailed(exc.message, code=exc.code, field="name") from exc
    if not name:
        raise ValidationFailed(_("Enter a name."), code="downstream_system.name_missing",
                               field="name")
    return name


def _scope(owner: Organisation, scope: Iterable[Organisation]) -> list[Organisation]:
    """The organisations whose people the system receives: at least one, each the owner or under
    it, so that every administrator of the system administers every person it receives (the
    status page names them; docs/decisions.md, "Downstream system scope")."""
    chosen = sorted({org.pk: org for org in scope}.values(), key=lambda org: org.path)
    if not chosen:
        raise ValidationFailed(_("Choose at least one organisation whose people the system "
                                 "receives."), code="downstream_system.scope_missing", field="scope")
    if any(not org.path.startswith(owner.path) for org in chosen):
        raise ValidationFailed(
            _("Choose the owning organisation or organisations under it: the system's "
              "administrators must be able to administer every person it receives."),
            code="downstream_system.scope_outside", field="scope")
    return chosen


def _attributes(attributes: Iterable[str]) -> list[str]:
    wanted = set(attributes)
    if wanted - set(ATTRIBUTES):
        raise ValidationFailed(_("Choose attributes from the list."),
                               code="downstream_system.attribute_unknown", field="attributes")
    return [code for code in ATTRIBUTES if code in wanted]


def _secret(value: str, *, field: str, pattern: re.Pattern[str], message: Any) -> str:
    secret = value.strip()
    if len(secret) > SECRET_MAX or (secret and not pattern.fullmatch(secret)):
        raise ValidationFailed(message, code="downstream_system.secret_invalid", field=field)
    return secret


def _credentials(auth_method: str, given: Mapping[str, str], base_url: str,
                 kept: Mapping[str, str] | None = None, kept_base_url: str = "") -> dict[str, str]:
    """The credentials to store, checked: `{"token"}` for a bearer token (RFC 6750), or
    `{"token_url", "client_id", "client_secret", "scope"}` for OAuth2 client credentials (RFC 6749
    §4.4). A blank token or client secret keeps the one in `kept` (the stored credentials of the
    same method) when it would still go to the same origin (scheme, host, port) as before, and
    for a client secret also the SCIM base URL (where its access token goes) and the client ID
    stay: a stored secret or a token from it is never sent anywhere it was not entered for
    (docs/decisions.md, "Downstream system credentials")."""
    if auth_method == DownstreamSystem.AuthMethod.BEARER:
        token = _secret(given.get("token", ""), field="token", pattern=B64TOKEN, message=_(
            "A bearer token holds only letters A–Z, digits and - . _ ~ + /, with = at the end."))
        if not token and kept and _origin(base_url) == _origin(kept_base_url):
            token = kept.get("token", "")
        if not token:
            raise ValidationFailed(
                _("Enter the bearer token.") if not kept else
                _("Enter the bearer token again: the SCIM base URL now points to another host."),
                code="downstream_system.secret_missing", field="token")
        return {"token": token}
    if auth_method != DownstreamSystem.AuthMethod.CLIENT_CREDENTIALS:
        raise ValidationFailed(_("Choose how the portal authenticates."),
                               code="downstream_system.auth_method", field="auth_method")
    token_url = _url(given.get("token_url", ""), field="token_url", query_allowed=True)
    client_id = given.get("client_id", "").strip()
    if not client_id or len(client_id) > CLIENT_ID_MAX or not VSCHARS.fullmatch(client_id):
        raise ValidationFailed(_("Enter the client ID (printable ASCII characters)."),
                               code="downstream_system.client_id", field="client_id")
    secret = _secret(given.get("client_secret", ""), field="client_secret", pattern=VSCHARS,
                     message=_("A client secret holds only printable ASCII characters."))
    if (not secret and kept and kept.get("client_id") == client_id
            and _origin(token_url) == _origin(kept.get("token_url", ""))
            and _origin(base_url) == _origin(kept_base_url)):
        secret = kept.get("client_secret", "")
    if not secret:
        raise ValidationFailed(
            _("Enter the client secret.") if not kept else
            _("Enter the client secret again: the token URL, the client ID or the SCIM base "
              "URL's host changed."),
            code="downstream_system.secret_missing", field="client_secret")
    scope_tokens = given.get("scope", "").split()
    if any(not SCOPE_TOKEN.fullmatch(token) for token in scope_tokens):
        raise ValidationFailed(_("Scopes are words separated by spaces, without \" or \\."),
                               code="downstream_system.client_scope", field="client_scope")
    return {"token_url": token_url, "client_id": client_id, "client_secret": secret,
            "scope": " ".join(scope_tokens)}


def _settings(system: DownstreamSystem, stored: Mapping[str, str]) -> dict[str, Any]:
    """What an audit event may show of a system: everything but the secret."""
    return {"name": system.name, "base_url": system.base_url, "auth_method": system.auth_method,
            "token_url": stored.get("token_url", ""), "client_id": stored.get("client_id", ""),
            "client_scope": stored.get("scope", ""), "attributes": list(system.attributes),
            "state": system.state}


def _secret_of(stored: Mapping[str, str]) -> str:
    return stored.get("token") or stored.get("client_secret") or ""


@service
def downstream_system_register(
    *, actor: Actor, organisation: Organisation, name: str, base_url: str, auth_method: str,
    credentials_given: Mapping[str, str], scope: Iterable[Organisation], attributes: Iterable[str],
) -> DownstreamSystem:
    """Register a downstream system of `organisation`, enabled: `name` (unique in the
    organisation), `base_url` (the SCIM base URL, RFC 7644 §3.1; `_url`), `auth_method`
    (`DownstreamSystem.AuthMethod`) with `credentials_given` (`token`; or `token_url`,
    `client_id`, `client_secret`, `scope`), stored encrypted (`apps.provisioning.credentials`),
    `scope` (organisations in `organisation`'s subtree whose people it receives) and `attributes`
    (codes of `DownstreamSystem.ATTRIBUTE_CHOICES`).

    Raises NotFound unless the actor administers `organisation`; ValidationFailed naming the
    field for a refused value or a name already used in the organisation. Audits
    `downstream_system.registered` with the settings, the secret masked."""
    policies.require_manage_system(actor, organisation)
    url = _url(base_url, field="base_url")
    system = DownstreamSystem(
        organisation=organisation, name=_name(name), base_url=url, auth_method=auth_method,
        attributes=_attributes(attributes), state=DownstreamSystem.State.ENABLED,
        created_by_label=str(actor)[:200], created_by_id=actor_id(actor))
    stored = _credentials(auth_method, credentials_given, url)
    system.credentials = credentials.encrypt(stored)
    chosen = _scope(organisation, scope)
    try:
        with transaction.atomic():
            system.save()
            system.scope.set(chosen)
            record(actor=actor, action=audit.SYSTEM_REGISTERED.code, target=system,
                   organisation=organisation, changes={
                       **{key: [None, value] for key, value in _settings(system, stored).items()},
                       "scope": [None, [org.hsa_id for org in chosen]], "secret": [None, "set"]})
    except IntegrityError as exc:  # provisioning_system_name_unique
        raise _name_taken() from exc
    return system


def _name_taken() -> ValidationFailed:
    return ValidationFailed(_("The organisation already has a downstream system with this name."),
                            code="downstream_system.name_taken", field="name")


def _locked(system: DownstreamSystem) -> DownstreamSystem:
    return (DownstreamSystem.objects.select_for_update(of=("self",))
            .select_related("organisation").get(pk=system.pk))


def _stored(system: DownstreamSystem) -> dict[str, str]:
    """The system's credentials in clear; empty when no configured key decrypts them any more (a
    key removed too early, docs/provisioning.md, "Credentials"): then nothing is kept and they
    must be entered again."""
    try:
        return credentials.decrypt(system.credentials)
    except InvalidToken:
        return {}


@service
def downstream_system_change(
    *, actor: Actor, system: DownstreamSystem, name: str, base_url: str, auth_method: str,
    credentials_given: Mapping[str, str], scope: Iterable[Organisation], attributes: Iterable[str],
) -> DownstreamSystem:
    """Change a system's settings, checked as at registration. A blank token or client secret
    keeps the stored one while it goes to the same origin as before (`_credentials`); any change
    drops the cached OAuth2 access tokens. The owner and the state do not change here. Jobs
    already queued are pushed with the new settings.

    Raises NotFound unless the actor administers the system's organisation; ValidationFailed
    naming the field. Audits `downstream_system.changed` with what changed (a new secret as
    masked), nothing when nothing changed."""
    policies.require_manage_system(actor, system.organisation)
    try:
        with transaction.atomic():
            locked = _locked(system)
            before_stored = _stored(locked)
            same_method = locked.auth_method == auth_method
            before = {**_settings(locked, before_stored),
                      "scope": [org.hsa_id for org in locked.scope.order_by("path")]}
            url = _url(base_url, field="base_url")
            stored = _credentials(auth_method, credentials_given, url,
                                  kept=before_stored if same_method and before_stored else None,
                                  kept_base_url=locked.base_url)
            chosen = _scope(locked.organisation, scope)
            locked.name, locked.base_url, locked.auth_method = _name(name), url, auth_method
            locked.attributes = _attributes(attributes)
            after = {**_settings(locked, stored), "scope": [org.hsa_id for org in chosen]}
            changes: dict[str, Any] = {key: [before[key], value] for key, value in after.items()
                                       if before[key] != value}
            if _secret_of(stored) != _secret_of(before_stored):
                changes["secret"] = ["set", "set"]
            if not changes:
                return locked
            locked.credentials = credentials.encrypt(stored)
            locked.save(update_fields=["name", "base_url", "auth_method", "credentials",
                                       "attributes", "updated_at"])
            AccessTokenCache.objects.filter(system=locked).delete()  # fetched for the old settings
            locked.scope.set(chosen)
            record(actor=actor, action=audit.SYSTEM_CHANGED.code, target=locked,
                   organisation=locked.organisation, changes=changes)
    except IntegrityError as exc:  # provisioning_system_name_unique
        raise _name_taken() from exc
    return locked


def _set_state(actor: Actor, system: DownstreamSystem, state: str, action: str) -> DownstreamSystem:
    policies.require_manage_system(actor, system.organisation)
    with transaction.atomic():
        locked = _locked(system)
        if locked.state == state:
            raise errors.StateUnchanged(paused=state == DownstreamSystem.State.PAUSED)
        changes = {"state": [locked.state, state]}
        locked.state = state
        locked.save(update_fields=["state", "updated_at"])
        record(actor=actor, action=action, target=locked, organisation=locked.organisation,
               changes=changes)
    return locked


@service
def downstream_system_pause(*, actor: Actor, system: DownstreamSystem) -> DownstreamSystem:
    """Pause a system: nothing is pushed to it, its jobs stay pending (and new ones queue) until
    it is enabled again. Raises NotFound as `downstream_system_change`, StateUnchanged when it
    is paused already. Audits `downstream_system.paused`."""
    return _set_state(actor, system, DownstreamSystem.State.PAUSED, audit.SYSTEM_PAUSED.code)


@service
def downstream_system_enable(*, actor: Actor, system: DownstreamSystem) -> DownstreamSystem:
    """Enable a paused system: its pending jobs are pushed again, oldest first per person. Raises
    NotFound as `downstream_system_change`, StateUnchanged when it is enabled already. Audits
    `downstream_system.enabled`."""
    return _set_state(actor, system, DownstreamSystem.State.ENABLED, audit.SYSTEM_ENABLED.code)


def _job_target(job: ProvisioningJob, system: DownstreamSystem) -> AuditTarget:
    """What an audit event about `job` names: the job, labelled `<system name> #<job id>` (no
    stored code in the label, so it reads the same in every language; the change's code is in the
    event's `changes`)."""
    return AuditTarget(type="provisioning.provisioningjob", id=str(job.pk),
                       label=f"{system.name} #{job.pk}")


def _locked_job(job: ProvisioningJob) -> ProvisioningJob:
    return (ProvisioningJob.objects.select_for_update(of=("self",))
            .select_related("system__organisation", "person").get(pk=job.pk))


@service
def provisioning_job_retry(*, actor: Actor, job: ProvisioningJob) -> ProvisioningJob:
    """Make a failed job pending again, due now; its attempts and last error are kept (the next
    push replaces the error). Raises NotFound unless the actor administers the job's system;
    JobNotRetryable when the job is not failed (of two retries, or a retry and a skip, at once
    one wins). Audits `provisioning_job.retried` about the person."""
    policies.require_manage_system(actor, job.system.organisation)
    with transaction.atomic():
        locked = _locked_job(job)
        if locked.state != ProvisioningJob.State.FAILED:
            raise errors.JobNotRetryable()
        locked.state = ProvisioningJob.State.PENDING
        locked.available_at = timezone.now()
        locked.finished_at = None
        locked.save(update_fields=["state", "available_at", "finished_at"])
        record(actor=actor, action=audit.JOB_RETRIED.code,
               target=_job_target(locked, locked.system),
               subject=locked.person, organisation=locked.system.organisation,
               changes={"state": [ProvisioningJob.State.FAILED, locked.state],
                        "change": [locked.change, locked.change],
                        "attempts": [locked.attempts, locked.attempts]})
    return locked


@service
def provisioning_job_skip(*, actor: Actor, job: ProvisioningJob, reason: str) -> ProvisioningJob:
    """Skip a pending or failed job with a reason (kept in the audit event): it is never pushed;
    the person's later jobs go on. The next change of the person, or a reconciliation, sends
    their whole state again. Raises NotFound unless the actor administers the job's system;
    ValidationFailed (`reason`) for an empty or too long reason; JobNotSkippable when the job is
    in progress, done or skipped (of two at once one wins). Audits `provisioning_job.skipped`
    about the person."""
    policies.require_manage_system(actor, job.system.organisation)
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise ValidationFailed(_("Give a reason of at most 1000 characters."),
                               code="provisioning_job.reason", field="reason")
    with transaction.atomic():
        locked = _locked_job(job)
        if locked.state not in (ProvisioningJob.State.PENDING, ProvisioningJob.State.FAILED):
            raise errors.JobNotSkippable()
        before = locked.state
        locked.state = ProvisioningJob.State.SKIPPED
        locked.finished_at = timezone.now()
        locked.save(update_fields=["state", "finished_at"])
        record(actor=actor, action=audit.JOB_SKIPPED.code,
               target=_job_target(locked, locked.system),
               subject=locked.person, organisation=locked.system.organisation, reason=reason,
               changes={"state": [before, locked.state],
                        "change": [locked.change, locked.change]})
    return locked


@service
def reconciliation_start(*, actor: Actor, system: DownstreamSystem) -> ReconciliationRun:
    """Start a full reconciliation of an enabled system: a `ReconciliationRun` in state `running`,
    which the provisioning worker carries out (docs/provisioning.md, "Reconciliation"). Raises
    NotFound unless the actor administers the system's organisation; SystemPaused for a paused
    system; ReconciliationRunning while one runs (under the system's lock, and the database's
    one-running-run constraint: of two starts at once one wins). Audits
    `reconciliation.started`."""
    policies.require_manage_system(actor, system.organisation)
    try:
        with transaction.atomic():
            locked = _locked(system)
            if locked.state == DownstreamSystem.State.PAUSED:
                raise errors.SystemPaused()
            if ReconciliationRun.objects.filter(system=locked,
                                                state=ReconciliationRun.State.RUNNING).exists():
                raise errors.ReconciliationRunning()
            run = ReconciliationRun.objects.create(
                system=locked, started_by_label=str(actor)[:200], started_by_id=actor_id(actor))
            record(actor=actor, action=audit.RECONCILIATION_STARTED.code, target=locked,
                   organisation=locked.organisation, changes={"reconciliation": [None, str(run.pk)]})
    except IntegrityError as exc:  # provisioning_one_running_reconciliation
        raise errors.ReconciliationRunning() from exc
    return run


@service
def downstream_system_push_now(*, actor: Actor, system: DownstreamSystem) -> int:
    """Make every pending job of an enabled system that waits for a later attempt (backing off
    after a failure) due now, e.g. once its administrators know the target works again; the
    worker is woken after the commit. Returns how many jobs were made due. Raises NotFound unless
    the actor administers the system's organisation, SystemPaused for a paused system. Audits
    `downstream_system.pushed_now` with that number. Locks the system, then the jobs (the lock
    order of `apps.provisioning.models`)."""
    policies.require_manage_system(actor, system.organisation)
    with transaction.atomic():
        locked = _locked(system)
        if locked.state == DownstreamSystem.State.PAUSED:
            raise errors.SystemPaused()
        now = timezone.now()
        count = ProvisioningJob.objects.filter(
            system=locked, state=ProvisioningJob.State.PENDING, available_at__gt=now,
        ).update(available_at=now)
        record(actor=actor, action=audit.SYSTEM_PUSHED_NOW.code, target=locked,
               organisation=locked.organisation, changes={"jobs_made_due": [0, count]})
        transaction.on_commit(tasks.wake)
    return count


@service
def downstream_system_credentials_rotate(*, actor: Actor) -> int:
    """Re-encrypt every downstream system's stored credentials with the first key of
    settings.PORTAL_PROVISIONING_CREDENTIAL_KEYS, so that the older keys can then be removed from
    the setting (docs/configuration.md, "Rotating the provisioning credential key"). The
    credentials themselves are unchanged; the shared OAuth2 access tokens (`AccessTokenCache`) are
    re-encrypted too. Only the operator (a system actor); one `downstream_system.rekeyed` event
    per system, all in one transaction (systems locked in id order, the first step of the lock
    order). Returns the number of systems. Raises Forbidden, and
    `cryptography.fernet.InvalidToken` (nothing changed) when a value was made with a key no
    longer in the setting."""
    require_operator(actor)
    with transaction.atomic():
        count = 0
        for system in DownstreamSystem.objects.select_for_update().order_by("pk"):
            system.credentials = credentials.rotate(system.credentials)
            system.save(update_fields=["credentials"])
            for cached in AccessTokenCache.objects.filter(system=system):
                cached.token = credentials.rotate(cached.token)
                cached.save(update_fields=["token"])
            record(actor=actor, action=audit.SYSTEM_REKEYED.code, target=system,
                   organisation=system.organisation)
            count += 1
    return count

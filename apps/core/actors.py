"""Non-human actors: the portal itself, its background worker and scheduler, the demo-data loader,
the mobile app calling the activation API, and someone not yet logged in.

Services take `actor` first. A `User` is checked against its roles; a `SystemActor` is named by a
stable `code` and shown to people by its translated `label`. Audit rows and the "by whom" snapshots
of domain rows store the code (`system:<name>`), and pages show the label in the reader's language
(`actor_display`), so no technical name reaches a person.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

#: Prefix of every system actor's code, so a stored label can never be mistaken for a user's
#: (a user's label is "Given Family (username)").
PREFIX = "system:"

_BY_CODE: dict[str, SystemActor] = {}


@dataclass(frozen=True)
class SystemActor:
    """A non-human actor. `code` is stable (`system:<name>`), `label` is translated, and `kind` is
    what the audit row records: "system", "device" (a client holding a one-time credential) or
    "anonymous" (someone who has not logged in yet)."""

    code: str
    label: str | Promise = field(compare=False)
    kind: str = "system"

    def __post_init__(self) -> None:
        if not self.code.startswith(PREFIX):
            raise ValueError(f"a system actor's code starts with {PREFIX!r}: {self.code!r}")
        _BY_CODE.setdefault(self.code, self)

    def __str__(self) -> str:
        return self.code


#: Operator tasks: management commands, imports, the tests' own set-up.
SYSTEM = SystemActor("system:portal", _("The portal"))
#: The background worker (Celery tasks, outbox delivery).
WORKER = SystemActor("system:worker", _("The portal's background service"))
#: The demo-data loader (`manage.py demo_data`).
DEMO_DATA = SystemActor("system:demo-data", _("Demo data loader"))
#: A mobile app redeeming an activation code: the code is its credential, it has no login.
MOBILE_APP = SystemActor("system:mobile-app", _("Mobile e-ID app"), kind="device")
#: Someone who has not logged in (a login attempt).
ANONYMOUS = SystemActor("system:anonymous", _("Someone not logged in"), kind="anonymous")


@dataclass(frozen=True)
class ClientSystem:
    """A registered system acting by its own credentials, not for a person: an HR system feeding
    staff into the portal over SCIM (docs/scim-inbound.md). `client_id` is its OAuth2 client id
    at the portal's identity provider (RFC 6749 2.2), `name` its registered name, and
    `organisation_id` the organisation that registered it: the system acts only within that
    organisation's subtree (`apps.commissions.policies.scope_roots`). Audit rows name the system
    (`audit_label`, its client id as `audit_identifier`, kind "client")."""

    client_id: str
    name: str
    organisation_id: uuid.UUID | None
    pk: None = None
    #: `AuditEvent.actor_kind` of its rows.
    audit_kind: str = "client"

    @property
    def audit_label(self) -> str:
        """The registered name, or the client id for a client without one or one registered
        under a reserved name before such names were refused (`is_reserved_label`), so no row
        ever reads as the portal's own."""
        if not self.name or is_reserved_label(self.name):
            return self.client_id[:200]
        return self.name[:200]

    @property
    def audit_identifier(self) -> str:
        return self.client_id[:200]

    def __str__(self) -> str:
        return self.audit_label


def is_operator(actor: object) -> bool:
    """True for the portal's own system actors (kind "system"), which pass policies because only
    code the operator started runs as them; a device or someone anonymous is not one."""
    return isinstance(actor, SystemActor) and actor.kind == "system"


def actor_display(label: str, kind: str | None = None) -> str:
    """The text to show for a stored actor label: a system actor's translated label, else the
    stored snapshot as it is (a user's "Given Family (username)"). With the row's actor `kind`
    (an audit row's `actor_kind`), a label is a system actor's only on a row of that actor's kind,
    so a user or a client system whose name reads like a code is shown by that name. A "by whom"
    snapshot of a domain row has no kind: registered names never start with `PREFIX`
    (`is_reserved_label`), so its code is always the system actor's."""
    actor = _BY_CODE.get(label)
    if actor is None or (kind is not None and kind != actor.kind):
        return label
    return str(actor.label)


def is_reserved_label(name: str) -> bool:
    """True for a name a registered system may not take (the OAuth2 client's name at
    registration), as it would read like a system actor's code (`PREFIX`, in any case and
    width) in audit rows and "by whom" snapshots."""
    return unicodedata.normalize("NFKC", name).strip().casefold().startswith(PREFIX)

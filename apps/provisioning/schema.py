"""The SCIM 2.0 resources the portal exchanges with downstream systems and HR systems.

Both directions use the same shapes (docs/provisioning.md, "Resource mapping"):

- a person is a SCIM `User` (RFC 7643 §4.1) with the enterprise extension (RFC 7643 §4.3) and the
  portal's HSA extension below (`HsaUser`), which carries what the core schemas have no place for:
  the person's employee HSA-ids (anställnings-HSA-id), their commissions (medarbetaruppdrag) and
  the care units those commissions act for;
- a system role (docs/glossary.md) is a SCIM `Group` (RFC 7643 §4.2) whose members are the users
  holding that role.

The extension's schema is published at `/scim/v2/Schemas/<HSA_USER_SCHEMA>` by the inbound server
and as JSON by `hsa_user_schema_json()`, so that a downstream system can load it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from pydantic import field_validator
from scim2_models import (
    URN,
    CaseExact,
    ComplexAttribute,
    EnterpriseUser,
    Extension,
    Group,
    Required,
    User,
)

#: The URN of the portal's HSA extension schema (RFC 7643 §3.3 extension schemas; the namespace
#: is the portal's own, docs/decisions.md, "The HSA extension schema").
HSA_USER_SCHEMA = "urn:se:vardportal:scim:schemas:extension:hsa:1.0:User"


class HsaEmployment(ComplexAttribute):
    """One employee HSA-id of the person: `hsaId` (the employee HSA-id, case exact), the HSA-id
    of the organisation that issued it, and the title there."""

    hsa_id: Annotated[str | None, Required.true, CaseExact.true] = None
    organisation_hsa_id: Annotated[str | None, CaseExact.true] = None
    title: str | None = None


class HsaCommission(ComplexAttribute):
    """One commission (medarbetaruppdrag) of the person: its HSA-id, name and purpose (HSA
    "Vård och behandling" and the other purposes), the care provider and care unit it acts for
    (HSA-ids), the employee HSA-id it belongs to, and its validity, [validFrom, validUntil) in
    UTC, validUntil absent when open-ended."""

    hsa_id: Annotated[str | None, Required.true, CaseExact.true] = None
    name: str | None = None
    purpose: str | None = None
    care_provider_hsa_id: Annotated[str | None, CaseExact.true] = None
    care_unit_hsa_id: Annotated[str | None, CaseExact.true] = None
    employee_hsa_id: Annotated[str | None, CaseExact.true] = None
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None


class HsaUser(Extension):
    """The portal's HSA extension of the SCIM User: `employments` (employee HSA-ids), `commissions`
    (only those valid now) and `careUnits` (the HSA-ids of the care units those commissions act
    for, derived from the commissions and sent so that a target need not derive it; the inbound
    server publishes it as read-only, `apps.api.scim.views`)."""

    __schema__ = URN(HSA_USER_SCHEMA)

    employments: list[HsaEmployment] | None = None
    commissions: list[HsaCommission] | None = None
    care_units: list[str] | None = None


#: The User the portal sends to downstream systems: core + enterprise + HSA extension (a plain
#: parameterised resource, as scim2-client's provider description needs it).
PortalUser = User[EnterpriseUser | HsaUser]


class InboundUser(PortalUser):  # type: ignore[valid-type,misc]
    """The User the inbound server accepts from HR systems: `PortalUser`, stricter.

    `active` is a JSON boolean (RFC 7643 §2.3.2, §4.1.1): pydantic's lax mode would read "yes",
    "on", "1" or 1 as true, so anything but `true`, `false` or null is refused (400
    `invalidValue`, RFC 7644 §3.12) rather than guessed."""

    @field_validator("active", mode="before")
    @classmethod
    def _active_is_a_boolean(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, bool):
            raise ValueError("active is true or false (a JSON boolean)")
        return value


#: A system role as a SCIM Group.
PortalGroup = Group


def hsa_user_schema() -> dict[str, Any]:
    """The HSA extension as a SCIM Schema resource (RFC 7643 §7), a JSON object."""
    schema = HsaUser.to_schema()
    schema.name = "HSA"
    schema.description = "Employee HSA-ids, commissions and care units of a person in Swedish healthcare"
    dumped: dict[str, Any] = schema.model_dump()
    return dumped


def hsa_user_schema_json() -> str:
    """`hsa_user_schema()` as indented JSON text."""
    return json.dumps(hsa_user_schema(), indent=2, ensure_ascii=False)

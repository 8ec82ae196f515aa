"""The SCIM resources the portal sends a downstream system, built from the database as it is now
(docs/provisioning.md, "Resource mapping").

A push always sends the person's whole current state, never the change that caused it, so a push
repeated, reordered after a failure or replayed by reconciliation converges on the same resource.

- `user_states(system, person_ids)`: one `PortalUser` (RFC 7643 §4.1 with the enterprise
  extension §4.3 and the HSA extension, `apps.provisioning.schema`) per person, with the roles
  they hold, in seven reads whatever the number of people (no N+1); `user_state` and
  `user_resource` for one person;
- `group_resource(role, members)`: a system role as a `Group` (RFC 7643 §4.2);
- `digest(resource, roles)`: the SHA-256 of what is sent, to skip a push that would change
  nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone
from pydantic import ValidationError
from scim2_models import Context, Email, EnterpriseUser, GroupMember, Name

from apps.commissions.models import Commission, Employee, Role, RoleAssignment
from apps.identities.models import Person, User
from apps.provisioning.models import DownstreamSystem
from apps.provisioning.schema import (
    HsaCommission,
    HsaEmployment,
    HsaUser,
    PortalGroup,
    PortalUser,
)
from apps.provisioning.scope import person_ids_in_scope

logger = logging.getLogger(__name__)


@dataclass
class UserState:
    """What the portal says about one person for one system: the `resource` to send, whether the
    person is `in_scope`, and the system `roles` (codes) they hold now, for the Groups."""

    person_id: uuid.UUID
    resource: PortalUser
    in_scope: bool
    roles: list[str] = field(default_factory=list)


def user_resource(system: DownstreamSystem, person_id: uuid.UUID | str) -> PortalUser:
    """The User `system` should hold for the person `person_id` now (`user_states`).

    Raises Person.DoesNotExist for an unknown person."""
    return user_state(system, person_id).resource


def user_state(system: DownstreamSystem, person_id: uuid.UUID | str) -> UserState:
    """`user_states` of one person. Raises Person.DoesNotExist for an unknown person."""
    states = user_states(system, [uuid.UUID(str(person_id))])
    if not states:
        raise Person.DoesNotExist(person_id)
    return states[0]


def user_states(system: DownstreamSystem, person_ids: Iterable[uuid.UUID]) -> list[UserState]:
    """The `UserState` of each known person of `person_ids`, in that order; seven reads in all.

    The mapping (docs/provisioning.md, "Resource mapping"):

    - `externalId`: the person's id (UUID text); the target's `id` is its own (RFC 7643 §3.1);
    - `userName`: the staff login account's username, else the person's first employee HSA-id,
      else the person's id;
    - `name` (givenName, familyName, formatted), `displayName`;
    - `active`: in scope, and not a leaver: the staff login account is active, or, for a
      person without one, they hold a commission or system role valid now or later;
    - `emails` (with "emails"): the person's e-mail address, type work, primary;
    - enterprise extension (with "enterprise"): `employeeNumber` = the first employee HSA-id in
      scope, `organization` = its care provider's name, `department` = its organisation's name;
    - HSA extension: `employments` (with "employments") = the employee HSA-ids issued in the
      system's scope; `commissions` (with "commissions") = the commissions of those HSA-ids valid
      now, and `careUnits` their care units' HSA-ids (read-only, RFC 7643 §2.2: the target
      derives it from the commissions, so scim2-models leaves it out of requests);
    - a commission is sent only when its care unit (else its care provider) is in the system's
      scope, an employment only when its organisation is (the system learns nothing of another
      care provider, docs/provisioning.md "Scope");
    - someone out of scope (their last in-scope employee HSA-id moved away) gets only
      `externalId`, `userName` and `active` false: the target keeps its user, deactivated, and
      learns nothing more of the person;
    - a person with protected personal data (skyddade personuppgifter, `Person.is_protected`)
      is sent without `name`, `displayName` and `emails`, the rest as usual (docs/decisions.md,
      "Provisioning of protected persons").
    """
    ids = list(dict.fromkeys(person_ids))
    now = timezone.now()
    roots = list(system.scope.all())
    wanted = set(system.attributes)
    in_scope = set(person_ids_in_scope(system).filter(person_id__in=ids))
    people = Person.objects.in_bulk(ids)
    accounts: dict[uuid.UUID, list[User]] = defaultdict(list)
    for login in User.objects.filter(person_id__in=ids, kind=User.Kind.STAFF).order_by("created_at"):
        accounts[login.person_id].append(login)
    employees: dict[uuid.UUID, list[Employee]] = defaultdict(list)
    for employee in (Employee.objects.filter(person_id__in=ids)
                     .select_related("organisation__care_provider").order_by("created_at", "hsa_id")):
        employees[employee.person_id].append(employee)
    commissions: dict[uuid.UUID, list[Commission]] = defaultdict(list)
    for commission in (Commission.objects.filter(employee__person_id__in=ids, ended_at__isnull=True)
                       .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
                       .select_related("employee", "care_provider", "care_unit")
                       .order_by("valid_from", "hsa_id")):
        commissions[commission.employee.person_id].append(commission)
    roles: dict[uuid.UUID, list[RoleAssignment]] = defaultdict(list)
    for assignment in (RoleAssignment.objects.filter(person_id__in=ids, ended_at__isnull=True)
                       .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
                       .order_by("role")):
        roles[assignment.person_id].append(assignment)

    def scoped(path: str) -> bool:
        return any(path.startswith(root.path) for root in roots)

    states = []
    for person_id in ids:
        person = people.get(person_id)
        if person is None:
            continue
        mine = [employee for employee in employees[person_id] if scoped(employee.organisation.path)]
        mine_ids = {employee.pk for employee in mine}
        granted = [c for c in commissions[person_id] if c.employee_id in mine_ids]
        current = [c for c in granted if c.valid_from <= now
                   and scoped((c.care_unit or c.care_provider).path)]
        held = sorted({a.role for a in roles[person_id] if a.valid_from <= now})
        account: User | None = next((a for a in accounts[person_id] if a.is_active), None) or (
            accounts[person_id][0] if accounts[person_id] else None)
        entitled = (account.is_active if account is not None
                    else bool(granted or roles[person_id]))
        active = person_id in in_scope and entitled
        first = mine[0] if mine else (employees[person_id][0] if employees[person_id] else None)
        resource = PortalUser(
            external_id=str(person_id),
            user_name=account.username if account else (first.hsa_id if first else str(person_id)),
            active=active,
        )
        if person_id not in in_scope:
            states.append(UserState(person_id=person_id, resource=resource, in_scope=False))
            continue
        if not person.is_protected:
            resource.name = Name(given_name=person.given_name, family_name=person.family_name,
                                 formatted=str(person))
            resource.display_name = str(person)
        if "emails" in wanted and person.email and not person.is_protected:
            resource.emails = _emails(person)
        if "enterprise" in wanted and mine:
            home = mine[0].organisation
            provider = home.care_provider or home
            resource[EnterpriseUser] = EnterpriseUser(
                employee_number=mine[0].hsa_id, organization=provider.name, department=home.name)
        extension = HsaUser()
        if "employments" in wanted and mine:
            extension.employments = [
                HsaEmployment(hsa_id=e.hsa_id, organisation_hsa_id=e.organisation.hsa_id,
                              title=e.title or None) for e in mine]
        if "commissions" in wanted and current:
            extension.commissions = [
                HsaCommission(hsa_id=c.hsa_id, name=c.name, purpose=c.purpose,
                              care_provider_hsa_id=c.care_provider.hsa_id,
                              care_unit_hsa_id=c.care_unit.hsa_id if c.care_unit else None,
                              employee_hsa_id=c.employee.hsa_id, valid_from=c.valid_from,
                              valid_until=c.valid_until) for c in current]
            extension.care_units = sorted({c.care_unit.hsa_id for c in current if c.care_unit})
        if extension.employments or extension.commissions:
            resource[HsaUser] = extension
        states.append(UserState(person_id=person_id, resource=resource,
                                in_scope=person_id in in_scope,
                                roles=held if "groups" in wanted and active else []))
    return states


def _emails(person: Person) -> list[Email] | None:
    """The person's address as a SCIM e-mail, or None (logged) for one a SCIM e-mail cannot hold:
    scim2-models refuses special-use domains such as `.invalid` (RFC 6761), which a target
    would refuse too."""
    try:
        return [Email(value=person.email, type=Email.Type.work, primary=True)]
    except ValidationError:
        logger.warning("provisioning: the e-mail address of person %s is left out: not one a "
                       "SCIM e-mail can hold", person.pk)
        return None


def group_resource(role: str, members: Iterable[str] = ()) -> PortalGroup:
    """The Group of the system role `role` (a `Role` code): `externalId` and `displayName` are
    the code (`local_admin`), `members` the target's ids of the users holding it now.

    Raises ValueError for an unknown role."""
    Role(role)
    return PortalGroup(external_id=role, display_name=role,
                       members=[GroupMember.model_validate({"value": value, "type": "User"})
                                for value in members] or None)


def digest(resource: PortalUser, roles: Iterable[str] = ()) -> str:
    """SHA-256 (hex) of the resource as a creation request sends it (RFC 7644 §3.3) plus the
    `roles` whose Groups the user belongs to: equal digests mean the target is already right."""
    payload = resource.model_dump(scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    payload["__groups"] = sorted(roles)
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

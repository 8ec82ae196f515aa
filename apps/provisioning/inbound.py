"""The inbound SCIM 2.0 server's storage (RFC 7644): HR systems read and write the portal's staff as
SCIM `User`s and its system roles as `Group`s (docs/scim-inbound.md).

`PortalScimStorage` is a `scim2_server.storage.ScimStorage` for one client system
(`apps.core.actors.ClientSystem`). It reads the people employed (an employee HSA-id) in the
client's organisation subtree, and writes only through the portal's services with the client as
their actor, so each change is one audit event naming the system:

- POST /Users: `commissions.services.joiner_register` (a new person with a reserve id, an employee
  HSA-id under the client's organisation, a staff account named by `userName`, an enrolment);
- PUT/PATCH /Users: `person_rename` (name), `account_deactivate`/`account_reactivate` (active);
  the other attributes are the portal's or set at registration (the published schema says which:
  `apps.api.scim.views.SUPPORTED`), and a change of them is ignored, `userName` refused;
- DELETE /Users: `person_leave` (a leaver under the client's scope; the person stays readable,
  inactive: the portal keeps people, docs/decisions.md "SCIM DELETE is a leaver");
- PATCH/PUT /Groups: `role_grant` (a member added: the role over the client's organisation; an
  HR system grants only `issuer`, `policies.require_grantable_role`) and `role_end` (a member
  removed: their assignments of the role in the subtree).

Lock order (docs/architecture.md, "Lock order"): a User write locks the person, re-reads them
and only then compares `If-Match`; a Group write locks the client's root `Organisation` row
first (it serialises the client's Group writes, so the version read is the one written over),
then the people it changes one at a time in id order (their services lock each person). Nothing
else locks an `Organisation` row, so it always comes before the person.

Outside the subtree every id is 404 (`NotFoundException`), so existence never leaks. Domain
refusals become SCIM errors (RFC 7644 §3.12) by `scim_error`; nothing else is raised.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError
from scim2_models import Email as ScimEmail
from scim2_models import (
    EnterpriseUser,
    ForbiddenException,
    GroupMember,
    InvalidValueException,
    Meta,
    MutabilityException,
    Name,
    NotFoundException,
    PreconditionFailedException,
    Resource,
    ResourceType,
    ResponseParameters,
    SCIMException,
    SearchRequest,
    UniquenessException,
)
from scim2_server.storage import ScimStorage, SearchPage

from apps.audit.registry import register_reason
from apps.commissions import services as commissions
from apps.commissions.models import Commission, Employee, Enrolment, Role, RoleAssignment
from apps.core.actors import ClientSystem
from apps.core.errors import Conflict, NotFound, PortalError
from apps.identities.models import Person, User
from apps.organisations.models import Organisation
from apps.provisioning.schema import (
    HsaCommission,
    HsaEmployment,
    HsaUser,
    InboundUser,
    PortalGroup,
)

#: Reason codes of the writes an HR system makes (shown translated, `audit_tags.reason_text`).
REASON_DEACTIVATED = register_reason("scim.deactivated", _("Deactivated by the HR system (SCIM)"))
REASON_LEFT = register_reason("scim.left", _("Removed by the HR system (SCIM)"))
REASON_MEMBER_REMOVED = register_reason("scim.member_removed",
                                        _("Removed from the role by the HR system (SCIM)"))
REASON_REACTIVATED = register_reason("scim.reactivated", _("Reactivated by the HR system (SCIM)"))

#: The service codes that mean a value is taken (RFC 7644 §3.12 `uniqueness`).
_UNIQUENESS_CODES = frozenset({"username.taken", "username.confusable", "employee.duplicate",
                               "person.duplicate", "role.duplicate"})


def scim_error(exc: PortalError) -> SCIMException:
    """The SCIM error (RFC 7644 §3.12) for a refused service call: NotFound → 404, a taken value
    → 409 `uniqueness`, Conflict → 409, Busy → 503 (try again), Forbidden → 403, any other
    refusal → 400 `invalidValue` with the service's code and message (English: the detail is for
    the HR system's operators)."""
    with translation.override("en"):
        detail = f"{exc.code}: {exc.message}"
    if isinstance(exc, NotFound):
        return NotFoundException(detail="Resource not found")
    if exc.code in _UNIQUENESS_CODES:
        return UniquenessException(detail=detail)
    if isinstance(exc, Conflict) or exc.status in (409, 503):
        return SCIMException(status=exc.status, detail=detail)
    if exc.status == 403:
        return ForbiddenException(detail=detail)
    return InvalidValueException(detail=detail)


def _version(resource: Resource[Any]) -> str:
    """A weak ETag (RFC 7232 §2.3) of a resource's state: a SHA-256 of its JSON without meta, so
    it changes whenever anything shown changes (RFC 7644 §3.14)."""
    data = resource.model_dump(exclude={"meta"})
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return f'W/"{digest[:32]}"'


def _emails(address: str) -> list[ScimEmail] | None:
    """The person's e-mail as the work address, or None: also for a stored address that SCIM's
    e-mail syntax refuses (a reserved domain such as example.invalid, RFC 6761), which no
    client could send to."""
    if not address:
        return None
    try:
        return [ScimEmail(value=address, type=ScimEmail.Type.work, primary=True)]
    except ValidationError:
        return None


def _page(search_request: SearchRequest[Any], found: list[Resource[Any]]) -> SearchPage:
    """Sort by `sortBy` (missing values last, then the id) and cut the page (RFC 7644 §3.4.2.3,
    §3.4.2.4; `startIndex` is 1-based)."""
    descending = (search_request.sort_by is not None
                  and search_request.sort_order == SearchRequest.SortOrder.descending)

    def key(resource: Resource[Any]) -> tuple[bool, Any, str]:
        value = search_request.sort_value(resource)
        return value is None, value if value is not None else "", cast(str, resource.id)

    ordered = sorted(found, key=key, reverse=descending)
    start = search_request.start_index_0 or 0
    stop = None if search_request.count is None else start + search_request.count
    return SearchPage(len(ordered), ordered[start:stop])


class PortalScimStorage(ScimStorage):
    """The portal's people and system roles as SCIM resources, for one client system `actor`
    (module docstring). Every operation runs in one transaction (`operation`)."""

    def __init__(self, actor: ClientSystem) -> None:
        self.actor = actor
        self.root = (Organisation.objects.filter(pk=actor.organisation_id).first()
                     if actor.organisation_id else None)

    @contextmanager
    def operation(self) -> Iterator[None]:
        """One transaction per SCIM operation: the If-Match check and the writes commit together."""
        with transaction.atomic():
            yield

    # -- reads ---------------------------------------------------------------------------------

    def _people(self) -> QuerySet[Person]:
        """The people employed in the client's subtree, with what their resources show."""
        if self.root is None:
            return Person.objects.none()
        now = timezone.now()
        in_scope = Employee.objects.filter(organisation__path__startswith=self.root.path)
        return Person.objects.filter(pk__in=in_scope.values("person_id")).prefetch_related(
            Prefetch("users", queryset=User.objects.filter(kind=User.Kind.STAFF)
                     .order_by("created_at"), to_attr="staff_accounts"),
            Prefetch("employees", to_attr="scoped_employees", queryset=in_scope.select_related(
                "organisation").order_by("created_at").prefetch_related(Prefetch(
                    "commissions", queryset=Commission.objects.active_at(now).select_related(
                        "care_unit", "care_provider", "employee").order_by("valid_from")))),
        )

    def _person(self, resource_id: str | None) -> Person:
        """The person with id `resource_id` in the client's scope; NotFoundException otherwise."""
        try:
            return self._people().get(pk=uuid.UUID(str(resource_id)))
        except (Person.DoesNotExist, ValueError):
            raise NotFoundException(detail="Resource not found") from None

    def _user(self, person: Person) -> Resource[Any]:
        """The SCIM User of `person` (docs/scim-inbound.md, "Mapping")."""
        accounts: list[User] = getattr(person, "staff_accounts", [])
        employees: list[Employee] = getattr(person, "scoped_employees", [])
        commissions_now = [c for e in employees for c in e.commissions.all()
                           if c.care_unit is None or self._in_scope(c.care_unit)]
        first = employees[0] if employees else None
        resource = InboundUser(
            id=str(person.pk),
            user_name=accounts[0].username if accounts else (first.hsa_id if first else ""),
            name=Name(given_name=person.given_name, family_name=person.family_name),
            display_name=f"{person.given_name} {person.family_name}",
            title=(first.title or None) if first else None,
            active=any(a.is_active for a in accounts),
            emails=_emails(person.email),
        )
        resource[EnterpriseUser] = EnterpriseUser(
            employee_number=first.hsa_id if first else None,
            organization=first.organisation.name if first else None)
        resource[HsaUser] = HsaUser(
            employments=[HsaEmployment(hsa_id=e.hsa_id, organisation_hsa_id=e.organisation.hsa_id,
                                       title=e.title or None) for e in employees] or None,
            commissions=[HsaCommission(
                hsa_id=c.hsa_id, name=c.name, purpose=c.purpose,
                care_provider_hsa_id=c.care_provider.hsa_id,
                care_unit_hsa_id=c.care_unit.hsa_id if c.care_unit else None,
                employee_hsa_id=c.employee.hsa_id, valid_from=c.valid_from,
                valid_until=c.valid_until) for c in commissions_now] or None,
            care_units=sorted({c.care_unit.hsa_id for c in commissions_now if c.care_unit})
            or None)
        changed = max([person.updated_at, *(a.created_at for a in accounts),
                       *(e.updated_at for e in employees),
                       *(c.updated_at for c in commissions_now)])
        resource.meta = Meta(resource_type="User", created=person.created_at,
                             last_modified=changed)
        resource.meta.version = _version(resource)
        return cast(Resource[Any], resource)

    def _in_scope(self, organisation: Organisation) -> bool:
        return self.root is not None and organisation.path.startswith(self.root.path)

    def _assignments(self, role: str) -> QuerySet[RoleAssignment]:
        """The active assignments of `role` over the subtree, of people in scope."""
        if self.root is None:
            return RoleAssignment.objects.none()
        return RoleAssignment.objects.active_at(timezone.now()).filter(
            role=role, organisation__path__startswith=self.root.path,
            person__in=self._people().values("pk")).select_related("person")

    def _group(self, role: str) -> Resource[Any]:
        """The SCIM Group of the system role `role` (its code is the id)."""
        assignments = list(self._assignments(role))
        people = {a.person_id: a.person for a in assignments}
        with translation.override("en"):
            label = str(Role(role).label)
        group = PortalGroup(id=role, display_name=label, members=[
            GroupMember(value=str(pk), type="User", display=str(person),
                        ref=f"Users/{pk}")  # type: ignore[arg-type]
            for pk, person in sorted(people.items(), key=lambda item: str(item[0]))] or None)
        changed = max([a.updated_at for a in assignments], default=None)
        group.meta = Meta(resource_type="Group", last_modified=changed)
        group.meta.version = _version(group)
        return cast(Resource[Any], group)

    def _role(self, resource_id: str | None) -> str:
        if resource_id not in Role.values:
            raise NotFoundException(detail="Resource not found")
        return cast(str, resource_id)

    def get(self, resource_type: ResourceType, resource_id: str, *,
            response_parameters: ResponseParameters[Any] | None = None) -> Resource[Any]:
        """One User (a person in scope) or Group (a system role); NotFoundException otherwise."""
        if resource_type.name == "Group":
            return self._group(self._role(resource_id))
        return self._user(self._person(resource_id))

    def search(self, resource_types: list[ResourceType], search_request: SearchRequest[Any], *,
               position: Any = None) -> SearchPage:
        """Filter, sort and page the client's Users and Groups (RFC 7644 §3.4.2): the filter is
        evaluated on the resources of the client's subtree (scim2-models' `ScimFilter.match`)."""
        found: list[Resource[Any]] = []
        for resource_type in resource_types:
            if resource_type.name == "Group":
                found += [self._group(role) for role in Role.values]
            else:
                found += [self._user(person) for person in self._people()]
        scim_filter = search_request.filter
        if scim_filter is not None:
            found = [r for r in found if scim_filter.match(r)]
        return _page(search_request, found)

    # -- writes --------------------------------------------------------------------------------

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        """POST /Users: register the person as a joiner under the client's organisation
        (`joiner_register`, a reserve id: SCIM carries no personnummer). Groups are the portal's
        fixed system roles: 403."""
        if resource_type.name == "Group":
            raise ForbiddenException(detail="Groups are the portal's fixed system roles")
        if self.root is None:
            raise ForbiddenException(detail="The client system has no organisation")
        user = cast(InboundUser, resource)
        name = user.name or Name()
        emails = [e.value for e in user.emails or [] if e.value]
        try:
            result = commissions.joiner_register(
                actor=self.actor, identity_number="", reserve=True,
                given_name=name.given_name or "", family_name=name.family_name or "",
                email=str(emails[0]) if emails else "", organisation=self.root,
                title=user.title or "", username=user.user_name or "",
                channel=Enrolment.Channel.EMAIL if emails else Enrolment.Channel.ISSUER)
            if user.active is False and result.user is not None:
                commissions.account_deactivate(actor=self.actor, user=result.user,
                                               reason=REASON_DEACTIVATED.code)
        except PortalError as exc:
            raise scim_error(exc) from exc
        return self._user(self._person(str(result.person.pk)))

    def update(self, resource_type: ResourceType, resource: Resource[Any], *,
               expected_version: str | None = None) -> Resource[Any]:
        """PUT/PATCH: the new state `resource` is compared with the stored one under the person's
        lock (or, for a Group, with the role's members) and each difference is made by its
        service. Raises PreconditionFailedException when the stored version is no longer
        `expected_version` (If-Match, RFC 7644 §3.14), MutabilityException for a new `userName`
        (immutable) or a system role's new name."""
        try:
            if resource_type.name == "Group":
                return self._update_group(resource, expected_version)
            return self._update_user(resource, expected_version)
        except PortalError as exc:
            raise scim_error(exc) from exc

    def _update_user(self, resource: Resource[Any], expected_version: str | None) -> Resource[Any]:
        person = self._person(resource.id)
        Person.objects.select_for_update().get(pk=person.pk)
        person = self._person(resource.id)
        current = cast(InboundUser, self._user(person))
        assert current.meta is not None
        if expected_version is not None and current.meta.version != expected_version:
            raise PreconditionFailedException()
        new = cast(InboundUser, resource)
        if (new.user_name or "").casefold() != (current.user_name or "").casefold():
            raise MutabilityException(detail="userName is the login username; it does not change")
        name = new.name or Name()
        if (name.given_name, name.family_name) != (person.given_name, person.family_name):
            commissions.person_rename(actor=self.actor, person=person,
                                      given_name=name.given_name or "",
                                      family_name=name.family_name or "")
        accounts = getattr(person, "staff_accounts", [])
        if new.active is not None and accounts and new.active != current.active:
            if new.active:
                commissions.account_reactivate(actor=self.actor, user=accounts[0],
                                               reason=REASON_REACTIVATED.code)
            else:
                for account in (a for a in accounts if a.is_active):
                    commissions.account_deactivate(actor=self.actor, user=account,
                                                   reason=REASON_DEACTIVATED.code)
        return self._user(self._person(resource.id))

    def _update_group(self, resource: Resource[Any], expected_version: str | None
                      ) -> Resource[Any]:
        role = self._role(resource.id)
        # The client's root organisation is locked before the version is read, so two requests
        # holding one version never both pass If-Match (RFC 7644 §3.14); lock order in the
        # module docstring.
        if self.root is not None:
            Organisation.objects.select_for_update().get(pk=self.root.pk)
        current = cast(PortalGroup, self._group(role))
        assert current.meta is not None
        if expected_version is not None and current.meta.version != expected_version:
            raise PreconditionFailedException()
        new = cast(PortalGroup, resource)
        if new.display_name and new.display_name != current.display_name:
            raise MutabilityException(detail="A system role's name does not change")
        # A member's id in any spelling uuid.UUID reads (capitals, braces) is the same person as
        # `GET /Users/<id>` finds: compared in its canonical form (RFC 4122 §3), else refused.
        try:
            wanted = {str(uuid.UUID(str(m.value))) for m in new.members or [] if m.value}
        except ValueError:
            raise InvalidValueException(detail="Unknown member") from None
        held = {str(m.value) for m in current.members or []}
        # One person at a time in id order, so two requests never lock people in a circle
        # (docs/architecture.md, "Lock order").
        for person_id in sorted(wanted ^ held):
            if person_id in wanted:
                try:
                    person = self._person(person_id)
                except NotFoundException:
                    raise InvalidValueException(detail="Unknown member") from None
                assert self.root is not None
                commissions.role_grant(actor=self.actor, person=person, role=role,
                                       organisation=self.root, valid_from=timezone.now(),
                                       valid_until=None)
                continue
            for assignment in self._assignments(role).filter(person_id=person_id).order_by("pk"):
                commissions.role_end(actor=self.actor, assignment=assignment,
                                     reason=REASON_MEMBER_REMOVED.code)
        return self._group(role)

    def delete(self, resource_type: ResourceType, resource_id: str, *,
               expected_version: str | None = None) -> None:
        """DELETE /Users/<id>: make the person a leaver under the client's scope
        (`person_leave`, or `account_deactivate` of a joiner holding nothing yet); a leaver
        already is left as they are. Groups: 403."""
        if resource_type.name == "Group":
            raise ForbiddenException(detail="Groups are the portal's fixed system roles")
        person = self._person(resource_id)
        # Lock, re-read, then compare (as `_update_user`): a PATCH committed meanwhile changes
        # the version, and this request answers 412 (RFC 7644 §3.14).
        Person.objects.select_for_update().get(pk=person.pk)
        person = self._person(resource_id)
        current = self._user(person)
        assert current.meta is not None
        if expected_version is not None and current.meta.version != expected_version:
            raise PreconditionFailedException()
        try:
            commissions.person_leave(actor=self.actor, person=person, reason=REASON_LEFT.code)
        except PortalError as exc:
            if exc.code != "leave.nothing":
                raise scim_error(exc) from exc
            # Nothing to end under the scope: a joiner without commissions leaves by losing their
            # active accounts; one without any is a leaver already (nothing to do).
            active = [a for a in getattr(person, "staff_accounts", []) if a.is_active]
            try:
                for account in active:
                    commissions.account_deactivate(actor=self.actor, user=account,
                                                   reason=REASON_LEFT.code)
            except PortalError as inner:
                raise scim_error(inner) from inner


"""Reads of employees, commissions and roles."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    UUIDField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Lower, Replace
from django.db.models.lookups import Exact, IsNull

from apps.audit import registry
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_list_for_person
from apps.commissions import policies
from apps.commissions.models import (
    Commission,
    Employee,
    Enrolment,
    PlannedLeave,
    RoleAssignment,
)
from apps.core.errors import NotFound
from apps.core.queries import get_or_not_found
from apps.identities.actors import Actor
from apps.identities.identifiers import (
    IdentifierError,
    fold_username,
    nfkc,
    normalise_hsa_id,
    normalise_username,
    parse_person_number,
)
from apps.identities.models import IdentityNumber, Person, User
from apps.identities.selectors import person_name_q
from apps.organisations.models import Organisation
from apps.organisations.selectors import subtree_q

#: The order of the people list, a total order its index `person_name_order_idx` covers.
PERSON_KEYS = ("family_name", "given_name", "id")
#: Text made only of digits, spaces, "-" and "+" is meant as an identity number, not a name.
NUMBER_LIKE = re.compile(r"[0-9\s+-]+")
#: A username holds a digit, "." or "_" where a name never does (a name may hold "-": Anna-Karin).
USERNAME_LIKE = re.compile(r".*[0-9._]")


def identifier_q(query: str, roots: list[Organisation]) -> Q | None:
    """A Q on Person for the exact identifier `query` is, or None when it is none (then it is a
    name): recognised first, in this order, each answered by one unique index
    (docs/search-and-lists.md, "The people search"):

    * digits, spaces, "-" and "+" only: a personnummer or samordningsnummer in any form
      `parse_person_number` accepts (12 or 10 digits, with "-" or "+", fullwidth digits); one
      that is not valid matches nobody;
    * an HSA-id (`normalise_hsa_id`, any case): the person with that employee HSA-id, or when it
      is an organisation's, the staff whose employee HSA-id belongs to its subtree (one more
      query, to read the organisation's path), counting only employee HSA-ids homed under
      `roots` (one outside them finds nobody);
    * a username (`normalise_username`, any case or width) holding a digit, "." or "_" (one of
      letters only, or with "-", is read as a name: "anna" is every Anna, not the account
      `anna`).

    `query` must already be NFKC-normalised and stripped (`person_search_in_scope` does it); an
    HSA-id query costs one more statement. Every comparison is with the stored normalised form,
    so no lookalike character (a Cyrillic `а`, a Turkish `ı`) finds anyone (docs/security.md,
    "Identifiers that look alike")."""
    if NUMBER_LIKE.fullmatch(query):
        try:
            ident = parse_person_number(query)
        except IdentifierError:
            return Q(pk__in=[])
        return Q(pk__in=IdentityNumber.objects.filter(
            root=ident.root, extension=ident.extension).values("person_id"))
    try:
        hsa_id = normalise_hsa_id(query).lower()
    except IdentifierError:
        pass
    else:
        path = (Organisation.objects.alias(hsa_id_lower=Lower("hsa_id"))
                .filter(hsa_id_lower=hsa_id).values_list("path", flat=True).first())
        # Only employee HSA-ids homed in the scope: one outside it is not the administrator's
        # to see, even when its person also works inside (docs/search-and-lists.md).
        in_scope = Employee.objects.filter(subtree_q(roots, "organisation__"))
        employees = (in_scope.filter(organisation__path__startswith=path) if path
                     else in_scope.alias(hsa_id_lower=Lower("hsa_id")).filter(hsa_id_lower=hsa_id))
        return Q(pk__in=employees.values("person_id"))
    if USERNAME_LIKE.match(query):
        try:
            username = normalise_username(query)
        except IdentifierError:
            pass
        else:
            return Q(pk__in=User.objects.filter(username=username).values("person_id"))
    return None


def person_search_in_scope(roots: list[Organisation], query: str = "") -> QuerySet[Person]:
    """Staff whose employee HSA-id belongs to the subtrees of `roots` (none without roots: deny
    by default), matching `query`, in list order (family name, given name, id: the keyset of
    `PERSON_KEYS`). Identity numbers and employees are prefetched, so a page of results costs a
    constant number of queries.

    The query is NFKC-normalised and stripped. When it is an identifier (`identifier_q`:
    personnummer or samordningsnummer in any accepted form, employee or organisation HSA-id,
    username) only that identifier is searched, by an exact indexed lookup compared with the
    stored normalised form (HSA-ids in ASCII lower case, as their unique index does), so no
    database case rule can make `SE…-abcı` find `SE…-ABCI` or a Cyrillic `аnna.admin` find
    `anna.admin` (docs/security.md, "Identifiers that look alike"). Otherwise every word must be
    part of the given or family name (`identities.selectors.person_name_q`: each word narrows;
    on PostgreSQL accent-insensitive through a trigram index)."""
    people = Person.objects.filter(
        pk__in=Employee.objects.filter(subtree_q(roots, "organisation__")).values("person_id")
    )
    query = nfkc(query).strip()
    if query:
        match = identifier_q(query, roots)
        people = people.filter(match if match is not None
                               else person_name_q(query, staff_only=True))
    return people.prefetch_related("identity_numbers", "employees").order_by(*PERSON_KEYS)


def commission_list_for_person(person: Person) -> QuerySet[Commission]:
    """All commissions of the person's employee HSA-ids, newest first, with rights and units."""
    return (
        Commission.objects.filter(employee__person=person)
        .select_related("care_unit", "care_provider", "employee")
        .prefetch_related("rights")
        .order_by("-valid_from")
    )


def commission_list_valid_for_person(person_id: uuid.UUID, now: datetime) -> list[Commission]:
    """The person's commissions valid at `now` (UTC; not ended, `valid_from <= now < valid_until`),
    with care unit, care provider and employee HSA-id, ordered by purpose, unit name and HSA-id:
    the commissions a staff member may choose to act under (uppdragsval). One query."""
    return list(
        Commission.objects.active_at(now).filter(employee__person_id=person_id)
        .select_related("care_unit", "care_provider", "employee")
        .order_by("purpose", "care_unit__name", "care_provider__name", "hsa_id")
    )


def commission_get_acting(person_id: uuid.UUID, commission_id: uuid.UUID | str) -> Commission | None:
    """The commission `commission_id` if it belongs to one of the person's employee HSA-ids
    (valid or not: the caller tells the person why it no longer applies), with care unit, care
    provider and employee; None for a missing commission, someone else's, or an id that is not a
    UUID. One query (run on every request of a session with a chosen commission)."""
    try:
        pk = uuid.UUID(str(commission_id))
    except ValueError:
        return None
    return (Commission.objects.filter(pk=pk, employee__person_id=person_id)
            .select_related("care_unit", "care_provider", "employee").first())


def employee_count_for_person(person_id: uuid.UUID) -> int:
    """How many employee HSA-ids the person has (pages show the HSA-id when there are several)."""
    return Employee.objects.filter(person_id=person_id).count()


def role_list_for_person(person: Person) -> QuerySet[RoleAssignment]:
    """All role assignments of the person, newest first."""
    return RoleAssignment.objects.filter(person=person).select_related("organisation")


def _commission_in_scope_q(roots: list[Organisation]) -> Q:
    """Commissions whose care unit (or, without a unit, care provider) and whose employee HSA-id's
    organisation lie under `roots`: the same rule as `services.commission_end` applies."""
    unit = subtree_q(roots, "care_unit__") | (
        Q(care_unit__isnull=True) & subtree_q(roots, "care_provider__")
    )
    return unit & subtree_q(roots, "employee__organisation__")


def person_get_in_scope(roots: list[Organisation], person_id: uuid.UUID | str) -> Person:
    """The staff member `person_id` if one of their employee HSA-ids lies under `roots`.

    Raises NotFound for a missing person and for one outside the scope alike.
    """
    return get_or_not_found(person_search_in_scope(roots), person_id)


def employee_list_for_person_in_scope(
    person: Person, roots: list[Organisation]
) -> QuerySet[Employee]:
    """The person's employee HSA-ids issued under `roots`, with their home organisation, ordered
    by HSA-id."""
    return (Employee.objects.filter(subtree_q(roots, "organisation__"), person=person)
            .select_related("organisation").order_by("hsa_id"))


def employees_in_scope_prefetch(roots: list[Organisation]) -> Prefetch:  # type: ignore[type-arg]
    """Prefetch for a Person queryset: employees under `roots` into `person.employees_in_scope`."""
    return Prefetch(
        "employees",
        queryset=Employee.objects.filter(subtree_q(roots, "organisation__")).order_by("hsa_id"),
        to_attr="employees_in_scope",
    )


def commission_list_for_person_in_scope(
    person: Person, roots: list[Organisation]
) -> QuerySet[Commission]:
    """The person's commissions at units under `roots`, newest first, with rights and units."""
    return commission_list_for_person(person).filter(_commission_in_scope_q(roots))


def commission_get_for_person_in_scope(
    person: Person, roots: list[Organisation], commission_id: uuid.UUID | str
) -> Commission:
    """One commission of `person` at a unit under `roots`; NotFound otherwise."""
    return get_or_not_found(commission_list_for_person_in_scope(person, roots), commission_id)


def role_list_for_person_in_scope(
    person: Person, roots: list[Organisation]
) -> QuerySet[RoleAssignment]:
    """The person's role assignments over organisations under `roots`, newest first."""
    return role_list_for_person(person).filter(subtree_q(roots, "organisation__"))


def role_get_for_person_in_scope(
    person: Person, roots: list[Organisation], assignment_id: uuid.UUID | str
) -> RoleAssignment:
    """One role assignment of `person` over an organisation under `roots`; NotFound otherwise."""
    return get_or_not_found(role_list_for_person_in_scope(person, roots), assignment_id)


def audit_list_for_person_in_scope(person: Person, roots: list[Organisation]) -> QuerySet[AuditEvent]:
    """Audit events about `person` (newest first) that concern an organisation under `roots`, or
    no organisation while every employee HSA-id of the person is under `roots` (a person who also
    works elsewhere has history there: docs/decisions.md, "Person-wide actions"); events at
    organisations outside the scope, events about the person's own care (consent, emergency
    access: `patient_data` actions), and events of or on the person's patient account (its logins
    and sessions: being a patient is patient data, PDL 2008:355 4 kap. 1 §) are left out. One
    query (the homes outside the scope are an uncorrelated NOT EXISTS)."""
    in_scope_hsa_ids = Organisation.objects.filter(subtree_q(roots)).values("hsa_id")
    patient_accounts = [str(pk) for pk in User.objects.filter(
        person=person, kind=User.Kind.PATIENT).values_list("pk", flat=True)]
    home_outside = Employee.objects.filter(person=person).exclude(
        subtree_q(roots, "organisation__"))
    return audit_list_for_person(person.pk).filter(
        (Q(organisation_hsa_id="") & ~Exists(home_outside))
        | Q(organisation_hsa_id__in=in_scope_hsa_ids)
    ).exclude(action__in=registry.patient_data_codes()).exclude(
        Q(actor_id__in=patient_accounts) | Q(target_id__in=patient_accounts))


def role_codes_active_for_person(person_id: uuid.UUID, now: datetime) -> set[str]:
    """The codes of the person's active system roles at `now` (one query; for the menu)."""
    return set(RoleAssignment.objects.active_at(now).filter(person_id=person_id)
               .values_list("role", flat=True))


def staff_account_list_for_person(person: Person) -> QuerySet[User]:
    """The person's staff login accounts. A patient account is patient data and never shown to an
    administrator (nor deactivated by one)."""
    return User.objects.filter(person=person, kind=User.Kind.STAFF).order_by("username")


def staff_account_get_for_person(person: Person, user_id: uuid.UUID | str) -> User:
    """One staff login account of `person` (already found in scope); NotFound otherwise."""
    return get_or_not_found(staff_account_list_for_person(person), user_id)


# --- Audit search: the care provider's log follow-up (PDL 2008:355 4 kap. 3 §) ------------------


@dataclass(frozen=True)
class AuditFilter:
    """What to search the audit log for; every part is optional and they combine with AND.

    `person`: the person the event is about, as a personnummer or samordningsnummer in any form
    `parse_person_number` accepts, or words of their name (each word part of the given or family
    name). `actor`: who acted, the same way, or their username. `action`: a registered action
    code. `unit`: an organisation; its whole subtree counts. `since` (inclusive) and `until`
    (exclusive): UTC instants."""

    person: str = ""
    actor: str = ""
    action: str = ""
    unit: Organisation | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditPosition:
    """A keyset position in the newest-first order (occurred_at UTC, id): a page holds the events
    strictly after it. `encode()` gives the text carried in a next-page link; `decode()` reads it
    back and raises ValueError for anything else. A position only says where to continue: the
    scope and the filters are applied again on every page, so a crafted one shows nothing more."""

    occurred_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        return f"{self.occurred_at.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}_{self.id.hex}"

    @classmethod
    def decode(cls, text: str) -> AuditPosition:
        when, separator, pk = text.partition("_")
        if not separator:
            raise ValueError("not an audit position")
        occurred_at = datetime.strptime(when, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
        return cls(occurred_at, uuid.UUID(hex=pk))


def _people_matching(text: str) -> QuerySet[Person] | None:
    """People whose identity number is `text` (any accepted form) or whose name holds every word
    of `text`; None when `text` looks like a number but is not a valid one (nobody)."""
    text = nfkc(text).strip()
    if NUMBER_LIKE.fullmatch(text):
        try:
            ident = parse_person_number(text)
        except IdentifierError:
            return None
        return Person.objects.filter(identity_numbers__root=ident.root,
                                     identity_numbers__extension=ident.extension)
    return Person.objects.filter(person_name_q(text))


def _audit_filter_q(filters: AuditFilter) -> Q:
    """The filters as a Q. The person and the actor are first resolved to their ids (one query
    each), so the database sees a literal list and reads the (subject or actor, time) index
    backwards instead of guessing how many a subquery returns."""
    q = Q()
    if filters.person.strip():
        people = _people_matching(filters.person)
        q &= Q(subject_person_id__in=list(people.values_list("id", flat=True))
               if people is not None else [])
    if filters.actor.strip():
        text = nfkc(filters.actor).strip()
        # A username holds a digit, "." or "_" where a name never does (`USERNAME_LIKE`, as the
        # people search reads it): such a text is looked up as a username only.
        people = (None if USERNAME_LIKE.match(text) and not NUMBER_LIKE.fullmatch(text)
                  else _people_matching(text))
        users = Q(username=fold_username(text))
        if people is not None:
            users |= Q(person__in=people)
        q &= Q(actor_id__in=list(User.objects.filter(users).values_list("id", flat=True)))
    if filters.action:
        q &= Q(action=filters.action)
    if filters.since is not None:
        q &= Q(occurred_at__gte=filters.since)
    if filters.until is not None:
        q &= Q(occurred_at__lt=filters.until)
    return q


class _AnyOfSubquery(Func):
    """`column IN (subquery)` that PostgreSQL can use as an index condition inside an OR:
    there it is written `column = ANY(ARRAY(subquery))`, so the subquery runs once (an InitPlan)
    and its array bounds an index range, where `IN (subquery)` under an OR is a hashed SubPlan
    filtering every row read (docs/journey-audit-search.md, "How it stays fast"). Other
    databases get `column IN (subquery)`."""

    template = "%(expressions)s"
    arg_joiner = " IN "
    output_field = BooleanField()
    conditional = True

    def as_postgresql(self, compiler: Any, connection: Any,
                      **extra_context: Any) -> tuple[str, Any]:
        return self.as_sql(compiler, connection, template="%(expressions)s)",
                           arg_joiner=" = ANY(ARRAY", **extra_context)


#: A scope of at most this many organisations passes the people homed in it as one array that
#: bounds the person index (a unit's few hundred people); a larger one (a region's hundreds of
#: thousands) is checked per row read instead, as PostgreSQL compares a value with every element
#: of such an array (docs/journey-audit-search.md, "How it stays fast").
PEOPLE_ARRAY_MAX_ORGANISATIONS = 50


def _patient_account_q() -> Q:
    """Events a patient account did or that target one (being a patient is patient data, PDL
    2008:355 4 kap. 1 §). Each is the kind of the account with that id, read by its primary key
    for each row the search reads (a scalar subquery, which PostgreSQL never turns into a hash
    of every patient account), so the cost follows the rows read, never the number of
    accounts. A target is an account only when its type says so (`identities.user`: its id is
    then the account's UUID; another type's id may be no UUID, hence the CASE before the
    cast)."""
    # Without its hyphens: PostgreSQL reads 32 hex digits as a UUID, and SQLite stores UUIDs so.
    target_account = Case(When(Exact(OuterRef("target_type"), User._meta.label_lower),
                               then=Cast(Replace(OuterRef("target_id"), Value("-"), Value("")),
                                         UUIDField())))
    return Q(_is_patient_account(OuterRef("actor_id"))) | Q(_is_patient_account(target_account))


def _is_patient_account(account_id: Any) -> Exact:
    """Whether the account with id `account_id` (an outer reference) is a patient account:
    false for no account at all."""
    kind = Subquery(User.objects.filter(pk=account_id).values("kind"))
    return Exact(Coalesce(kind, Value("")), User.Kind.PATIENT)


def audit_search_in_scope(*, actor: Actor, filters: AuditFilter) -> QuerySet[AuditEvent]:
    """Audit events in the actor's subtrees matching `filters`, newest first ((occurred_at, id)
    descending, a total order). The care provider's systematic log follow-up (PDL 2008:355
    4 kap. 3 §, HSLF-FS 2016:40 4 kap. 9 §); a patient's log extract stays the patient's own view
    (`apps.audit.selectors.audit_list_for_person`).

    An event is in a subtree when the organisation it concerns (or the unit its actor acted
    under) is; an event that concerns no organisation (a session ended, an issuer's reset, a
    person's own password change) is in the subtrees that hold EVERY home of the person it is
    about (one of the people with an employee HSA-id in scope, and none of theirs outside: a
    person who also works elsewhere has history there; docs/decisions.md, "Person-wide
    actions"). Events a patient account did or that target one (any patient account) are left
    out: that is the person's own care (docs/journey-audit-search.md, "What is in your scope's
    log"), as are events registered as patient data (`patient_data`: consents, emergency
    access, a patient's account): they are shown only in the patient's log extract
    (docs/decisions.md, "Audit search"). Policy `require_search_audit_log`; raises NotFound for
    a non-administrator and for a `unit` outside the scope, as for a missing one.

    Queries: the policy's, one for the scope's organisation HSA-ids, one for a person and one
    for an actor filter (`_audit_filter_q`); the events are read by the caller in one more; no
    count. The HSA-ids go to the database as a literal list, so it knows how many they are and
    picks the index of the narrowest condition; the people in scope are one array built once
    (`_AnyOfSubquery`); the other homes and the patient accounts are looked up by index for
    each row read (docs/journey-audit-search.md, "How it stays fast")."""
    roots = policies.require_search_audit_log(actor)
    if filters.unit is not None:
        if not policies.in_scope(filters.unit, roots):
            raise NotFound()
        roots = [filters.unit]
    in_scope = list(Organisation.objects.filter(subtree_q(roots)).values_list("hsa_id", flat=True))
    homes = Employee.objects.filter(subtree_q(roots, "organisation__"))
    if len(in_scope) <= PEOPLE_ARRAY_MAX_ORGANISATIONS:
        home_inside: Any = _AnyOfSubquery(F("subject_person_id"),
                                          Subquery(homes.values("person_id")))
    else:
        home_inside = IsNull(Subquery(homes.filter(
            person_id=OuterRef("subject_person_id")).values("pk")[:1]), False)
    home_outside = Employee.objects.filter(person_id=OuterRef("subject_person_id")).exclude(
        subtree_q(roots, "organisation__")).values("pk")[:1]
    scope = Q(organisation_hsa_id__in=in_scope) | Q(
        home_inside, IsNull(Subquery(home_outside), True), organisation_hsa_id="")
    return (AuditEvent.objects.filter(_audit_filter_q(filters), scope)
            .exclude(_patient_account_q())
            .exclude(action__in=registry.patient_data_codes())
            .order_by("-occurred_at", "-id"))


def audit_page(events: QuerySet[AuditEvent], after: AuditPosition | None,
               size: int) -> tuple[list[AuditEvent], AuditPosition | None]:
    """One page of `events` (ordered newest first by `audit_search_in_scope`): at most `size`
    events strictly after `after` (None: from the newest), and the position of the next page
    (None on the last). Keyset pagination: the `occurred_at <= t` bound lets the database start
    its index range at the position, so every page costs the same, however deep; no count. One
    query."""
    if after is not None:
        events = events.filter(
            Q(occurred_at__lt=after.occurred_at) | Q(occurred_at=after.occurred_at, id__lt=after.id),
            occurred_at__lte=after.occurred_at,
        )
    rows = list(events[:size + 1])
    if len(rows) <= size:
        return rows, None
    last = rows[size - 1]
    return rows[:size], AuditPosition(last.occurred_at, last.id)


@dataclass(frozen=True)
class LeavePlan:
    """What making `person` a leaver under `roots` changes at `now` (UTC): the active commissions
    and role assignments under `roots` that end, whether anything stays active elsewhere (then the
    login accounts stay active), and the active staff accounts deactivated when nothing stays."""

    commissions: list[Commission]
    roles: list[RoleAssignment]
    kept: int
    accounts: list[User]

    @property
    def deactivates(self) -> bool:
        return not self.kept

    @property
    def empty(self) -> bool:
        return not (self.commissions or self.roles or (self.deactivates and self.accounts))


def leave_plan_for_person(person: Person, roots: list[Organisation], now: datetime) -> LeavePlan:
    """The `LeavePlan` of `person` under `roots` at `now` (docs/journey-leaver.md)."""
    active = commission_list_for_person(person).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=now), valid_from__lte=now,
        ended_at__isnull=True)
    commissions = list(active.filter(_commission_in_scope_q(roots)))
    roles_active = RoleAssignment.objects.active_at(now).filter(person=person)
    roles = list(roles_active.filter(subtree_q(roots, "organisation__"))
                 .select_related("organisation").order_by("valid_from"))
    kept = active.exclude(pk__in=[c.pk for c in commissions]).count() + roles_active.exclude(
        pk__in=[r.pk for r in roles]).count()
    accounts = list(staff_account_list_for_person(person).filter(is_active=True))
    return LeavePlan(commissions=commissions, roles=roles, kept=kept, accounts=accounts)


def planned_leave_list_for_person(person: Person, roots: list[Organisation]) -> QuerySet[PlannedLeave]:
    """The person's planned leavers not yet applied, under `roots`, earliest last day first."""
    return PlannedLeave.objects.filter(subtree_q(roots, "organisation__"), person=person,
                                       applied_at__isnull=True).order_by("last_day")


def planned_leave_get_for_person_in_scope(person: Person, roots: list[Organisation],
                                          planned_id: uuid.UUID | str) -> PlannedLeave:
    """One planned leaver of `person` under `roots`, applied or not (the page says which);
    NotFound otherwise."""
    return get_or_not_found(PlannedLeave.objects.filter(subtree_q(roots, "organisation__"),
                                                        person=person), planned_id)


def commission_list_active_for_employee(employee: Employee, now: datetime) -> QuerySet[Commission]:
    """The employee HSA-id's commissions active at `now` (UTC), by unit name."""
    return (Commission.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=now), employee=employee,
        valid_from__lte=now, ended_at__isnull=True)
        .select_related("care_unit", "care_provider").order_by("care_unit__name", "name"))


def enrolment_open_by_token(token: str, now: datetime) -> Enrolment | None:
    """The open e-mail enrolment whose invitation token is `token` and has not expired at `now`
    (UTC), with its account and person; None for an unknown, used, ended or expired one (one
    answer for all). The token is compared by its hash (`Enrolment.token_digest`)."""
    if not token or len(token) > 100:
        return None
    return Enrolment.objects.select_related("user", "person").filter(
        token_hash=Enrolment.token_digest(token), channel=Enrolment.Channel.EMAIL,
        done_at__isnull=True, ended_at__isnull=True, expires_at__gt=now).first()


def enrolment_list_for_person(person: Person) -> QuerySet[Enrolment]:
    """The person's open enrolments (neither done nor ended; an e-mailed one may have expired),
    with their accounts, newest first: what the person page shows as pending."""
    return Enrolment.objects.filter(person=person, done_at__isnull=True,
                                    ended_at__isnull=True).select_related("user").order_by(
        "-created_at")


def enrolment_waiting_for_issuer(roots: list[Organisation]) -> QuerySet[Person]:
    """People with an employee HSA-id under `roots` who wait for a mobile e-ID from an issuer (an
    open enrolment by the issuer channel), by name; none without roots (deny by default)."""
    return Person.objects.filter(
        pk__in=Enrolment.objects.filter(channel=Enrolment.Channel.ISSUER, done_at__isnull=True,
                                        ended_at__isnull=True).values("person_id"),
    ).filter(pk__in=Employee.objects.filter(subtree_q(roots, "organisation__")).values(
        "person_id")).prefetch_related("identity_numbers", "employees").order_by(
        "family_name", "given_name")

"""Reads of employees, commissions and roles."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from apps.commissions.models import Commission, Employee, RoleAssignment
from apps.identities.identifiers import IdentifierError, parse_person_number
from apps.identities.models import Person
from apps.organisations.models import Organisation
from apps.organisations.selectors import subtree_q


def person_search_in_scope(roots: list[Organisation], query: str = "") -> QuerySet[Person]:
    """Staff whose employee HSA-id belongs to the subtrees of `roots`, matching `query` by name,
    employee HSA-id or personnummer (any accepted form). Identity numbers and employees are
    prefetched, so a page of results costs a constant number of queries."""
    people = Person.objects.filter(
        pk__in=Employee.objects.filter(subtree_q(roots, "organisation__")).values("person_id")
    )
    query = query.strip()
    if query:
        match = Q(employees__hsa_id__iexact=query)
        for word in query.split():
            match |= Q(given_name__icontains=word) | Q(family_name__icontains=word)
        try:
            ident = parse_person_number(query)
            match |= Q(identity_numbers__root=ident.root,
                       identity_numbers__extension=ident.extension)
        except IdentifierError:
            pass
        people = people.filter(match).distinct()
    return people.prefetch_related("identity_numbers", "employees").order_by(
        "family_name", "given_name", "id"
    )


def commission_list_for_person(person: Person) -> QuerySet[Commission]:
    """All commissions of the person's employee HSA-ids, newest first, with rights and units."""
    return (
        Commission.objects.filter(employee__person=person)
        .select_related("care_unit", "care_provider", "employee")
        .prefetch_related("rights")
        .order_by("-valid_from")
    )


def role_list_for_person(person: Person) -> QuerySet[RoleAssignment]:
    """All role assignments of the person, newest first."""
    return RoleAssignment.objects.filter(person=person).select_related("organisation")


def commission_list_active_for_person(person: Person, when: object) -> QuerySet[Commission]:
    """Commissions of `person` active at `when` (UTC)."""
    return Commission.objects.active_at(when).filter(employee__person=person).select_related(  # type: ignore[arg-type]
        "care_unit", "care_provider"
    ).prefetch_related(Prefetch("rights"))

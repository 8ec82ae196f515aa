"""Reads of the organisation tree."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from apps.organisations.models import Organisation


def subtree_q(roots: Iterable[Organisation], prefix: str = "") -> Q:
    """A Q matching rows whose organisation (reached through `prefix`, e.g. "care_unit__") lies in
    the subtree of any of `roots`. No roots: matches nothing (deny by default)."""
    q = Q(pk__in=[])
    for root in roots:
        q |= Q(**{f"{prefix}path__startswith": root.path})
    return q


def organisation_list_in_subtrees(roots: Iterable[Organisation]) -> QuerySet[Organisation]:
    """Organisations under (and including) any of `roots`, in tree order."""
    return Organisation.objects.filter(subtree_q(roots))


def care_unit_list_in_subtrees(roots: Iterable[Organisation]) -> QuerySet[Organisation]:
    """Care units under (and including) any of `roots`, with their care provider."""
    return organisation_list_in_subtrees(roots).filter(is_care_unit=True).select_related(
        "care_provider"
    )

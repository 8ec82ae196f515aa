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


def care_unit_list_for_provider(care_provider: Organisation) -> QuerySet[Organisation]:
    """The care units of `care_provider` (those whose nearest care-provider ancestor it is), in
    tree order. One query."""
    return Organisation.objects.filter(is_care_unit=True, care_provider=care_provider)


def group_by_tree(units: Iterable[Organisation], within: Iterable[Organisation] | None = None,
                  ) -> list[tuple[str, list[tuple[Organisation, int]]]]:
    """`units` in tree order (by `path`: each unit right after its parent), grouped under the
    top of the tree they sit in, each with its depth below that top (0: the top itself), for a
    select whose options show the hierarchy. The top is the highest of `within` (an
    administrator's scope roots) holding the unit, so nothing above the scope is named; without
    `within`, the root of the whole tree (a care provider). Groups are labelled with the top's
    name, in tree order. One query for the tops' names."""
    tops = sorted((root.path for root in within), key=len) if within is not None else None
    groups: dict[str, list[tuple[Organisation, int]]] = {}
    for unit in sorted(units, key=lambda u: u.path):
        top = next((path for path in tops if unit.path.startswith(path)), unit.path) if (
            tops is not None) else "/" + unit.path.strip("/").split("/")[0] + "/"
        groups.setdefault(top, []).append((unit, unit.path.count("/") - top.count("/")))
    names = dict(Organisation.objects.filter(path__in=list(groups)).values_list("path", "name"))
    return [(names.get(top, top), members) for top, members in groups.items()]


def group_by_branch(units: Iterable[Organisation], within: Iterable[Organisation] | None = None,
                    ) -> list[tuple[str, list[Organisation]]]:
    """`units` grouped by the branch of the tree they sit in, for a select with one group per
    branch: each group is labelled with the names from the root down to the units' parent
    (e.g. "Region Demoland › Norrby sjukhus"; a root unit: its own name), groups in tree order,
    units by name within a group. With `within` (an administrator's scope roots), only the names
    of ancestors inside those subtrees are shown, so nothing above the scope is named. One query
    for the ancestors' names."""
    units = list(units)
    roots = [root.path for root in within] if within is not None else None

    def branch(unit: Organisation) -> list[str]:
        ids = unit.path.strip("/").split("/")[:-1]
        return [hsa_id for k, hsa_id in enumerate(ids)
                if roots is None or any(f"/{'/'.join(ids[:k + 1])}/".startswith(root)
                                        for root in roots)]

    branches = {unit.pk: branch(unit) for unit in units}
    ancestor_ids = {hsa_id for ids in branches.values() for hsa_id in ids}
    names = dict(Organisation.objects.filter(hsa_id__in=ancestor_ids).values_list("hsa_id", "name"))
    groups: dict[str, list[Organisation]] = {}
    for unit in sorted(units, key=lambda u: (u.path.rsplit("/", 2)[0], u.name)):
        label = " › ".join(names.get(hsa_id, hsa_id) for hsa_id in branches[unit.pk]) or unit.name
        groups.setdefault(label, []).append(unit)
    return list(groups.items())


def care_unit_list() -> QuerySet[Organisation]:
    """Every care unit that belongs to a care provider, with it, ordered by care provider then
    name (for a select grouped by care provider: whose information a consent, or an inner block,
    is about)."""
    return Organisation.objects.filter(is_care_unit=True, care_provider__isnull=False).select_related(
        "care_provider").order_by("care_provider__name", "name")

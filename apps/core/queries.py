"""Small read helpers shared by the selectors."""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.db import models

from apps.core.errors import NotFound

M = TypeVar("M", bound=models.Model)


def get_or_not_found(queryset: models.QuerySet[M], pk: uuid.UUID | str) -> M:
    """The row `pk` of `queryset` (already narrowed to what the actor may see), or NotFound: the
    same answer for a missing row and one outside the actor's scope, so existence never leaks."""
    row = queryset.filter(pk=pk).first()
    if row is None:
        raise NotFound()
    return row

"""Shared model base: UUID primary key and creation/update timestamps (UTC)."""

import uuid

from django.db import models


class BaseModel(models.Model):
    """Abstract base for domain models: `id` is a random UUID, timestamps are UTC."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

"""The concurrency suite runs on PostgreSQL only: its proofs rest on row locks (SELECT ... FOR
UPDATE) and deadlock detection, which SQLite does not have. CI runs it (DATABASE_URL points at
PostgreSQL there); elsewhere it skips with this reason."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def postgresql_only(db: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the proof relies on row locks (SELECT ... FOR UPDATE) and "
                    "deadlock detection, which SQLite does not have; run with "
                    "DATABASE_URL=postgres://...")

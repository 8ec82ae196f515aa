"""Fixtures of the e-ID tests (not autouse: the CA and mobile-app unit tests need none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.issuance.ca import IssuingCA
from tests.issuance.support import use_temporary_ca


@pytest.fixture
def issuing_ca(settings: Any, tmp_path: Path) -> IssuingCA:
    """The portal's CA, created in a temporary folder for this test."""
    return use_temporary_ca(settings, tmp_path / "ca")

"""Files the demo writes under `var/` for development tools to read."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_private_json(path: Path, value: dict[str, Any]) -> None:
    """Write `value` as indented JSON to `path`, readable by its owner only (mode 0600): the demo
    clients' and the local SCIM target's development secrets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(value, handle, indent=2)

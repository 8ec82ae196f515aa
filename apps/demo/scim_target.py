"""The local SCIM target of `make run`: scim2-server's command line server (`scim2-server`, in
memory) on `settings.DEMO_SCIM_TARGET_URL`, serving the schemas the portal pushes (docs/
journey-provisioning.md, "The local SCIM target"):

- schemas: the core User and Group and the enterprise extension (RFC 7643 §4, scim2-server's
  defaults) and the portal's HSA extension (`apps.provisioning.schema.hsa_user_schema`);
- resource types: `User` at `/Users` with the enterprise and HSA extensions (neither required),
  `Group` at `/Groups` (RFC 7643 §6);
- authentication: one bearer token (RFC 6750), drawn once and kept with the SCIM base URL in
  `var/scim-target.json` (mode 0600), so the newcomer can paste both into the registration form
  of a downstream system. `/ServiceProviderConfig` answers without it (RFC 7643 §5).

It keeps its users in memory: a restarted target is empty, and the portal's next push of a person
creates the user again.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from scim2_server.utils import load_json_resource

from apps.core.management.commands.runportal import SCIM_TARGET_STOPPED
from apps.demo.files import write_private_json
from apps.provisioning.schema import HSA_USER_SCHEMA, hsa_user_schema

#: The SCIM base URL's path below the target's URL (scim2-server serves `/v2`).
VERSION_PATH = "/v2"


def config_path() -> Path:
    """`var/scim-target.json`: `base_url` (the SCIM base URL) and `token` (the bearer token)."""
    return Path(settings.VAR_DIR) / "scim-target.json"


def pid_path() -> Path:
    """`var/scim-target.pid`: the process id of the serving target."""
    return Path(settings.VAR_DIR) / "scim-target.pid"


def stopped_path() -> Path:
    """`var/scim-target.stopped`: present while the target was stopped on purpose
    (`manage.py scim_target stop`), so that `manage.py runportal` does not start it again."""
    return Path(settings.VAR_DIR) / SCIM_TARGET_STOPPED


def ensure_config() -> dict[str, str]:
    """The target's configuration, `{"base_url": ..., "token": ...}`: read from `config_path()`,
    or written there with a new random token (256 bits) when missing or unreadable. A changed
    `DEMO_SCIM_TARGET_URL` rewrites the base URL and keeps the token."""
    path = config_path()
    base_url = settings.DEMO_SCIM_TARGET_URL + VERSION_PATH
    try:
        config: dict[str, str] = json.loads(path.read_text())
        token = config["token"]
    except (OSError, ValueError, KeyError, TypeError):
        token = secrets.token_urlsafe(32)
    else:
        if config.get("base_url") == base_url:
            return config
    config = {"base_url": base_url, "token": token}
    write_private_json(path, config)
    return config


def write_discovery(directory: Path) -> tuple[Path, Path]:
    """Write the target's schemas and resource types (JSON lists, as `scim2-server --schema` and
    `--resource-type` read them) into `directory`; returns their paths."""
    schemas = [*load_json_resource("default-schemas.json"), hsa_user_schema()]
    resource_types = load_json_resource("default-resource-types.json")
    for resource_type in resource_types:
        if resource_type["id"] == "User":
            resource_type.setdefault("schemaExtensions", []).append(
                {"schema": HSA_USER_SCHEMA, "required": False})
    directory.mkdir(parents=True, exist_ok=True)
    schema_file, resource_type_file = directory / "schemas.json", directory / "resource-types.json"
    schema_file.write_text(json.dumps(schemas, indent=2, ensure_ascii=False))
    resource_type_file.write_text(json.dumps(resource_types, indent=2))
    return schema_file, resource_type_file


def server_command(*, host: str, port: int, token: str, directory: Path) -> list[str]:
    """The command line of a scim2-server on `host:port` that accepts bearer `token`, with the
    discovery files written into `directory` (`write_discovery`)."""
    schema_file, resource_type_file = write_discovery(directory)
    return [sys.executable, "-m", "scim2_server.testserver.cli", "--hostname", host,
            "--port", str(port), "--schema", str(schema_file),
            # One argument with "=": a token may begin with "-" (URL-safe base64).
            "--resource-type", str(resource_type_file), f"--bearer-token={token}"]


def address() -> tuple[str, int]:
    """The host and port of `DEMO_SCIM_TARGET_URL`."""
    parts = urlsplit(settings.DEMO_SCIM_TARGET_URL)
    return parts.hostname or "127.0.0.1", parts.port or 80

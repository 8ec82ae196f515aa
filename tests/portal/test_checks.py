"""Start-up checks and settings that stop a broken configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from apps.issuance.checks import ca_key_permissions
from portal.checks import required_programs

ROOT = Path(__file__).resolve().parents[2]


def test_missing_program_names_the_package(settings) -> None:
    settings.PORTAL_REQUIRED_PROGRAMS = {"surely-not-installed-xyz": "xyz-tools", "sh": "dash"}
    errors = required_programs()
    assert [e.id for e in errors] == ["portal.E001"]
    assert errors[0].hint == "Install it: apt-get install xyz-tools"


def test_world_readable_ca_key_is_reported(settings, tmp_path) -> None:
    settings.ISSUANCE_CA_DIR = tmp_path
    key = tmp_path / "ca.key"
    key.write_text("x")
    key.chmod(0o644)
    assert [w.id for w in ca_key_permissions()] == ["issuance.W001"]
    key.chmod(0o600)
    assert ca_key_permissions() == []


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_", "PORTAL_TOTP_"))}
    clean.update(env, DJANGO_SETTINGS_MODULE="portal.settings.base", PORTAL_VAR_DIR="/nonexistent")
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=60)


def test_debug_off_without_secret_key_stops_with_a_clear_message() -> None:
    result = _start({"DJANGO_DEBUG": "false"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_off_without_database_stops_with_a_clear_message() -> None:
    result = _start({"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "x" * 50})
    assert result.returncode != 0
    assert "DATABASE_URL is not set" in result.stderr


PRODUCTION = {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "x" * 50,
              "DATABASE_URL": "sqlite:////nonexistent/portal.sqlite3",
              "CELERY_BROKER_URL": "memory://"}


def test_debug_off_without_totp_encryption_key_stops_with_a_clear_message() -> None:
    result = _start(PRODUCTION)
    assert result.returncode != 0
    assert "PORTAL_TOTP_ENCRYPTION_KEYS is not set" in result.stderr


def test_a_malformed_totp_encryption_key_stops_without_showing_it() -> None:
    from cryptography.fernet import Fernet

    good = Fernet.generate_key().decode()
    result = _start({**PRODUCTION, "PORTAL_TOTP_ENCRYPTION_KEYS": f"{good},secret-but-short"})
    assert result.returncode != 0
    assert "PORTAL_TOTP_ENCRYPTION_KEYS: key 2 is not a Fernet key" in result.stderr
    assert "secret-but-short" not in result.stderr
    result = _start({**PRODUCTION, "PORTAL_TOTP_ENCRYPTION_KEYS": good})
    assert "PORTAL_TOTP_ENCRYPTION_KEYS" not in result.stderr



def test_a_missing_secret_is_one_clear_line_not_a_traceback() -> None:
    """Without debug and without DJANGO_SECRET_KEY, manage.py said so only at the end of two
    chained tracebacks."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.base", "DJANGO_DEBUG": "false",
           "DJANGO_SECRET_KEY": ""}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Configuration error: DJANGO_SECRET_KEY is not set.")


def test_the_migrations_check_needs_no_deployment_configuration(tmp_path: Path) -> None:
    """Found: on a fresh clone without .env, `manage.py makemigrations --check` stopped at the
    missing DJANGO_SECRET_KEY, which a check of the models does not need."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    env = {key: value for key, value in os.environ.items()
           if key not in ("DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG", "DJANGO_SECRET_KEY",
                          "DATABASE_URL")}
    env["PORTAL_VAR_DIR"] = str(tmp_path)
    result = subprocess.run([sys.executable, "manage.py", "makemigrations", "--check",
                             "--dry-run"], cwd=settings.BASE_DIR, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


def test_debug_off_without_provisioning_credential_keys_stops_with_a_clear_message() -> None:
    from cryptography.fernet import Fernet

    result = _start({**PRODUCTION, "PORTAL_TOTP_ENCRYPTION_KEYS": Fernet.generate_key().decode()})
    assert result.returncode != 0
    assert "PORTAL_PROVISIONING_CREDENTIAL_KEYS is not set" in result.stderr
    result = _start({**PRODUCTION, "PORTAL_TOTP_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                     "PORTAL_PROVISIONING_CREDENTIAL_KEYS": "not-a-key"})
    assert "PORTAL_PROVISIONING_CREDENTIAL_KEYS: key 1 is not a Fernet key" in result.stderr
    assert "not-a-key" not in result.stderr


def test_debug_off_without_client_secret_pepper_stops_with_a_clear_message() -> None:
    from cryptography.fernet import Fernet

    production = {**PRODUCTION, "PORTAL_TOTP_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                  "PORTAL_PROVISIONING_CREDENTIAL_KEYS": Fernet.generate_key().decode()}
    result = _start(production)
    assert result.returncode != 0
    assert "PORTAL_OAUTH_CLIENT_SECRET_PEPPER is not set" in result.stderr
    result = _start({**production, "PORTAL_OAUTH_CLIENT_SECRET_PEPPER": "short"})
    assert "at least 32 characters" in result.stderr


def test_oauth_lifetimes_must_be_positive() -> None:
    import pytest
    from django.core.exceptions import ImproperlyConfigured

    from portal.settings.base import oauth2_provider_settings

    with pytest.raises(ImproperlyConfigured, match="PORTAL_OAUTH_ACCESS_TOKEN_SECONDS"):
        oauth2_provider_settings(issuer="https://portal.example", access_token_seconds=0,
                                 id_token_seconds=300, refresh_token_seconds=3600)


def test_oidc_keys_and_https_issuer_are_checked_without_debug(settings, tmp_path) -> None:
    from apps.federation.checks import oidc_configuration
    from apps.federation.oidc import keys

    settings.DEBUG = False
    settings.OIDC_KEY_DIR = tmp_path
    settings.OIDC_ISSUER = "http://portal.example"
    assert sorted(str(e.id) for e in oidc_configuration(None)) == [
        "federation.E005", "federation.E005", "federation.E006"]
    keys.ensure()
    settings.OIDC_ISSUER = "https://portal.example"
    assert oidc_configuration(None) == []
    assert oct((tmp_path / "es256.pem").stat().st_mode & 0o777) == "0o600"

"""Test settings: the base settings with debug on, eager Celery and in-memory e-mail.

Tests use PostgreSQL when `DATABASE_URL` points at one, else SQLite.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")

from portal.settings.base import *  # noqa: E402,F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ISSUANCE_CA_DIR = VAR_DIR / "test-ca"  # noqa: F405
SAML_SP_KEY_FILE = VAR_DIR / "test-saml" / "sp-key.pem"  # noqa: F405
SAML_SP_CERT_FILE = VAR_DIR / "test-saml" / "sp-cert.pem"  # noqa: F405
TESTIDP_KEY_DIR = VAR_DIR / "test-testidp"  # noqa: F405
SAML_IDPS = []  # tests register the test IdP's personalities themselves
OIDC_KEY_DIR = VAR_DIR / "test-oidc"  # noqa: F405
PORTAL_AUDIT_SEAL_KEY_FILE = VAR_DIR / "test-audit-seal" / "seal-key.pem"  # noqa: F405
PORTAL_AUDIT_SEAL_PUBLIC_KEY_DIR = VAR_DIR / "test-audit-seal" / "public"  # noqa: F405
# Tests connect per request: a live server's threads would otherwise keep their connections
# (PORTAL_DB_CONN_MAX_AGE) open past the test and hold the test database. `make bench` sets it
# for the gunicorn it measures.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("PORTAL_DB_CONN_MAX_AGE", default=0)  # noqa: F405

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
DEMO_LOGIN_ENABLED = True  # pytest-django runs with DEBUG=False

"""Settings read from environment variables (django-environ).

Every variable is listed in `.env.example`. Development defaults (SQLite and a filesystem broker
under `var/`, a fixed secret key, console-readable e-mail files) apply only when `DJANGO_DEBUG` is
true; with debug off a missing `DJANGO_SECRET_KEY` or `DATABASE_URL` stops start-up with a clear
message (`ImproperlyConfigured`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG: bool = env.bool("DJANGO_DEBUG", default=False)
VAR_DIR = Path(env.str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))


def _required(name: str, dev_default: str) -> str:
    """Return env var `name`; in debug use `dev_default`; else stop start-up with a clear message."""
    value: str = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(
        f"{name} is not set. Set it in the environment or in .env (see .env.example), "
        "or set DJANGO_DEBUG=true for the development defaults."
    )


SECRET_KEY = _required("DJANGO_SECRET_KEY", "dev-only-insecure-secret-key-do-not-use-in-production")
ALLOWED_HOSTS: list[str] = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else []
)
# The demo patient login exists only in development (never configurable on its own).
DEMO_LOGIN_ENABLED: bool = DEBUG
PORTAL_BASE_URL: str = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "apps.core",
    "apps.audit",
    "apps.identities",
    "apps.organisations",
    "apps.commissions",
    "apps.consents",
    "apps.issuance",
    "apps.authn",
    "apps.administration",
    "apps.selfservice",
    "apps.api",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.audit.middleware.AuditContextMiddleware",
    "apps.core.middleware.PortalErrorMiddleware",
    "apps.core.middleware.PrivatePagesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.authn.context_processors.authn",
            ],
        },
    }
]

DATABASES = {
    "default": env.db_url_config(
        _required("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The development database: writers queue (BEGIN IMMEDIATE, wait up to 20 s) instead of
    # failing with "database is locked" when the web server and the worker write at once.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "identities.User"
LOGIN_URL = "authn:login"
LOGIN_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_COOKIE_AGE = 8 * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
# HTTPS in production (behind a proxy that terminates TLS, set SECURE_PROXY_SSL_HEADER's header).
SECURE_SSL_REDIRECT: bool = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS: int = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# Behind our own reverse proxy: trust its X-Forwarded-Proto and the last X-Forwarded-For entry.
BEHIND_PROXY: bool = env.bool("DJANGO_BEHIND_PROXY", default=False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", _("Swedish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"

# Content-Security-Policy (django-csp 4): no inline scripts or styles anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# E-mail: development writes each message as a file under var/mail (read it with `make mail`).
EMAIL_BACKEND: str = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.filebased.EmailBackend" if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST: str = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT: int = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL: str = env.str("DEFAULT_FROM_EMAIL", default="portal@example.invalid")


def celery_settings(broker_url: str, var_dir: Path) -> dict[str, Any]:
    """Celery configuration; `filesystem://` uses kombu's filesystem transport under `var_dir`."""
    options: dict[str, Any] = {}
    if broker_url.startswith("filesystem://"):
        folder = var_dir / "broker"
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    return {
        "CELERY_BROKER_URL": broker_url,
        "CELERY_BROKER_TRANSPORT_OPTIONS": options,
        "CELERY_TASK_ACKS_LATE": True,
        "CELERY_TASK_REJECT_ON_WORKER_LOST": True,
        "CELERY_WORKER_PREFETCH_MULTIPLIER": 1,
        "CELERY_TASK_IGNORE_RESULT": True,
        "CELERY_TASK_ALWAYS_EAGER": env.bool("CELERY_TASK_ALWAYS_EAGER", default=False),
        "CELERY_TASK_EAGER_PROPAGATES": True,
    }


globals().update(celery_settings(_required("CELERY_BROKER_URL", "filesystem://"), VAR_DIR))

# The issuing CA's key and certificate live outside the database (key file mode 0600).
ISSUANCE_CA_DIR = Path(env.str("ISSUANCE_CA_DIR", default=str(VAR_DIR / "ca")))
ISSUANCE_CA_NAME: str = env.str("ISSUANCE_CA_NAME", default="Region Demoland Mobile e-ID CA")
ISSUANCE_CA_ORGANISATION: str = env.str("ISSUANCE_CA_ORGANISATION", default="Region Demoland")
ISSUANCE_CERT_VALIDITY_SECONDS: int = env.int("ISSUANCE_CERT_VALIDITY_SECONDS", default=2 * 365 * 86400)

# System programs the portal needs, mapped to their Debian package (checked at start-up).
PORTAL_REQUIRED_PROGRAMS: dict[str, str] = {}

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "apps.api.problems.exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

# Every record goes to the root logger's one console handler. Django's own default configuration
# gives the "django" logger a console handler of its own (with debug on) that also propagates to
# the root, which printed each 4xx/5xx line of django.request twice; here it has none.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}

"""Settings read from environment variables (django-environ).

Every variable is listed in `.env.example`. Development defaults (SQLite and a filesystem broker
under `var/`, a fixed secret key, console-readable e-mail files) apply only when `DJANGO_DEBUG` is
true; with debug off a missing `DJANGO_SECRET_KEY` or `DATABASE_URL` stops start-up with a clear
message (`ImproperlyConfigured`).
"""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from apps.core import loa  # constants only: no model, no setting
from portal.logging_json import formatters as logging_formatters
from portal.logging_json import log_format

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG: bool = env.bool("DJANGO_DEBUG", default=False)
VAR_DIR = Path(env.str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))
# PORTAL_LOG_FORMAT: one JSON object per line (the default with debug off) or the plain message
# (portal.logging_json; docs/deployment.md, "Logs").
try:
    LOG_FORMAT = log_format()
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None


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
PORTAL_BASE_URL: str = env.str("PORTAL_BASE_URL", default="http://localhost:8000").rstrip("/")


INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "oauth2_provider",
    "apps.core",
    "apps.audit",
    "apps.outbox",
    "apps.identities",
    "apps.organisations",
    "apps.commissions",
    "apps.consents",
    "apps.blocks",
    "apps.rules",
    "apps.issuance",
    "apps.provisioning",
    "apps.authn",
    "apps.federation",
    "apps.administration",
    "apps.selfservice",
    "apps.api",
    "apps.demo",
]

MIDDLEWARE = [
    # First, so that it sees every answer: errors under /api/ become problem+json.
    "apps.api.middleware.ApiProblemMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Static files with debug off, before the session and everything after it: answered with the
    # security and CSP headers above, hashed names cached for good (docs/deployment.md). With
    # debug on, `runserver` serves them from their folders.
    *([] if DEBUG else ["whitenoise.middleware.WhiteNoiseMiddleware"]),
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.audit.middleware.AuditContextMiddleware",
    # After authentication (and the audit context, so that a session it ends is audited with the
    # request's address): ends sessions past their idle or absolute limit (docs/sessions.md).
    "apps.authn.middleware.SessionTimeoutMiddleware",
    "apps.authn.middleware.PasswordChangeRequiredMiddleware",
    # After the timeouts (an ended session chose nothing): re-validates the chosen commission.
    "apps.authn.commission_middleware.CommissionMiddleware",
    # After the login's session and commission, inside the CSP: a redirect to the authorization
    # endpoint becomes a page that moves on at once (CSP 3 form-action covers the redirects of a
    # form submission; apps.federation.oidc.continuation).
    "apps.federation.oidc.continuation.AuthorizationContinueMiddleware",
    "apps.core.middleware.PortalErrorMiddleware",
    "apps.core.middleware.PrivatePagesMiddleware",
    # Last, as django-axes asks: it sees the finished response of a locked-out login.
    "axes.middleware.AxesMiddleware",
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
else:
    # Persistent connections (docs/deployment.md): each worker thread keeps its PostgreSQL
    # connection for this many seconds instead of connecting per request; Django's health check
    # replaces a connection that broke.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("PORTAL_DB_CONN_MAX_AGE", default=600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # No JIT compilation: the portal's queries read a page of rows, and PostgreSQL compiles as
    # soon as a plan's estimated cost passes jit_above_cost, which a search over the audit log's
    # 24 partitions does; compiling took 300 ms to spare 1 (docs/decisions.md, "Audit search at
    # scale"; PostgreSQL manual, "JIT Compilation": "mostly beneficial for long-running queries").
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "identities.User"
# django-axes' backend first: it refuses a locked-out login before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "authn:login"
LOGIN_REDIRECT_URL = "home"
# NIST SP 800-63B rev. 4, 3.1.1.2: length by the account's factors, a blocklist of common
# passwords, no composition rules, no expiry (apps.authn.passwords; docs/decisions.md).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "apps.authn.passwords.SecondFactorLengthValidator"},
    {"NAME": "apps.authn.passwords.MaximumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
     "OPTIONS": {"user_attributes": ["username"]}},
]


def session_limits(aal2_max_age: int, aal2_idle: int, aal3_max_age: int,
                   aal3_idle: int) -> dict[str, dict[str, int]]:
    """Reauthentication limits in seconds per authenticator assurance level: `max_age` since the
    login ("overall timeout") and `idle` since the last request ("inactivity timeout"), NIST SP
    800-63B revision 4, sections 2.2.3 (AAL2: overall no more than 24 hours, inactivity no more
    than 1 hour, both SHOULD) and 2.3.3 (AAL3: overall SHALL be no more than 12 hours, inactivity
    SHOULD be no more than 15 minutes); section 5.2 describes the two timeouts. Raises
    ImproperlyConfigured for a figure that is not positive, an idle limit longer than its overall
    limit, or an AAL3 overall limit above 12 hours (the one SHALL)."""
    limits = {"aal2": {"max_age": aal2_max_age, "idle": aal2_idle},
              "aal3": {"max_age": aal3_max_age, "idle": aal3_idle}}
    for aal, figures in limits.items():
        name = f"PORTAL_SESSION_{aal.upper()}"
        if figures["max_age"] <= 0 or figures["idle"] <= 0:
            raise ImproperlyConfigured(f"{name}_MAX_AGE_SECONDS and {name}_IDLE_SECONDS must be "
                                       "positive numbers of seconds.")
        if figures["idle"] > figures["max_age"]:
            raise ImproperlyConfigured(f"{name}_IDLE_SECONDS is longer than "
                                       f"{name}_MAX_AGE_SECONDS.")
    if aal3_max_age > 12 * 3600:
        raise ImproperlyConfigured("PORTAL_SESSION_AAL3_MAX_AGE_SECONDS may be at most 43200 "
                                   "(12 hours, NIST SP 800-63B rev. 4 section 2.3.3).")
    return limits


# Sessions end after a time since login and after a time without activity, by the level of the
# login: LoA 2 is held to AAL2's limits, LoA 3 and 4 to AAL3's (docs/sessions.md).
PORTAL_SESSION_LIMITS: dict[str, dict[str, int]] = session_limits(
    env.int("PORTAL_SESSION_AAL2_MAX_AGE_SECONDS", default=24 * 3600),
    env.int("PORTAL_SESSION_AAL2_IDLE_SECONDS", default=3600),
    env.int("PORTAL_SESSION_AAL3_MAX_AGE_SECONDS", default=12 * 3600),
    env.int("PORTAL_SESSION_AAL3_IDLE_SECONDS", default=15 * 60),
)

# An issuer's one-time password (apps.authn.recovery) works for this many seconds; after that the
# login is refused and the person asks an issuer again (docs/decisions.md, "My account").
PORTAL_ONE_TIME_PASSWORD_SECONDS: int = env.int("PORTAL_ONE_TIME_PASSWORD_SECONDS",
                                                default=7 * 86400)
# The stored session outlives no limit: the longest overall limit (the portal's own middleware
# ends each session at its level's limits before this).
SESSION_COOKIE_AGE = max(figures["max_age"] for figures in PORTAL_SESSION_LIMITS.values())

#: The short names of PORTAL_LOA_* variables and the framework URIs they stand for.
LOA_SHORT_NAMES = {"loa2": loa.LOA2, "loa3": loa.LOA3, "loa4": loa.LOA4}


def loa_required(values: dict[str, str]) -> dict[str, str]:
    """The level of assurance each purpose needs, as framework URIs, from short names
    (`loa2|loa3|loa4`, case-insensitive) keyed by purpose. Raises ImproperlyConfigured naming the
    variable for any other value."""
    required = {}
    for purpose, value in values.items():
        uri = LOA_SHORT_NAMES.get(value.strip().lower())
        if uri is None:
            raise ImproperlyConfigured(
                f"PORTAL_LOA_{purpose.upper()}={value!r} is not a level: use loa2, loa3 or loa4.")
        required[purpose] = uri
    return required


# The level of assurance (tillitsnivå) a session needs for each purpose (apps.authn.decorators.
# loa_required): administration pages, issuing activation codes for other people, a staff member
# issuing their own new mobile e-ID.
PORTAL_LOA_REQUIRED: dict[str, str] = loa_required({
    "administration": env.str("PORTAL_LOA_ADMINISTRATION", default="loa3"),
    "issue_for_others": env.str("PORTAL_LOA_ISSUE_FOR_OTHERS", default="loa3"),
    "self_issuance": env.str("PORTAL_LOA_SELF_ISSUANCE", default="loa3"),
})
# Passkeys (WebAuthn): the relying party ID is the portal's host name unless set (W3C Web
# Authentication Level 2, 5.1.2: an RP ID is a registrable domain suffix of the origin's host); the
# origin the browser reports must be PORTAL_BASE_URL's. A passkey alone logs in at LoA 2: it is not
# an e-ID issued after identity proofing at LoA 3 (docs/authentication.md, "Passkeys").
PORTAL_WEBAUTHN_RP_ID: str = env.str(
    "PORTAL_WEBAUTHN_RP_ID", default=urlsplit(PORTAL_BASE_URL).hostname or "localhost")
PORTAL_WEBAUTHN_RP_NAME = _("IAM portal")
# Joiners (docs/decisions.md, "Joiners"). The root OID of the reserve ids (reservnummer) the portal
# gives people who have neither personnummer nor samordningsnummer: reserve ids carry their
# issuer's own OID. The default is a UUID-based OID (ITU-T X.667, arc 2.25), unique without
# registration; a region sets its own registered OID here before its first reserve id is given.
PORTAL_RESERVE_ID_ROOT: str = env.str(
    "PORTAL_RESERVE_ID_ROOT", default="2.25.329800735698586629295641978511506172918")
# How long an e-mailed enrolment invitation can be used, from when it was sent.
PORTAL_INVITATION_VALID_SECONDS: int = env.int("PORTAL_INVITATION_VALID_SECONDS",
                                               default=72 * 3600)
PORTAL_WEBAUTHN_ORIGIN: str = f"{urlsplit(PORTAL_BASE_URL).scheme}://{urlsplit(PORTAL_BASE_URL).netloc}"
_passkey_loa = env.str("PORTAL_PASSKEY_LOA", default="loa2")
if _passkey_loa.strip().lower() not in LOA_SHORT_NAMES:
    raise ImproperlyConfigured(f"PORTAL_PASSKEY_LOA={_passkey_loa!r} is not a level: use loa2, "
                               "loa3 or loa4.")
PORTAL_PASSKEY_LOA: str = LOA_SHORT_NAMES[_passkey_loa.strip().lower()]
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
# HTTPS in production (behind a proxy that terminates TLS, set SECURE_PROXY_SSL_HEADER's header).
SECURE_SSL_REDIRECT: bool = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
# The proxy's or orchestrator's probes may ask over plain HTTP on the private address.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS: int = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# Behind our own reverse proxies: trust their X-Forwarded-Proto and, of X-Forwarded-For, only the
# entry our outermost proxy appended (PROXY_COUNT proxies, each appending the address it was
# called from; apps.audit.middleware.client_ip reads it with django-ipware).
BEHIND_PROXY: bool = env.bool("DJANGO_BEHIND_PROXY", default=False)
PROXY_COUNT: int = env.int("DJANGO_PROXY_COUNT", default=1)
if PROXY_COUNT < 1:
    raise ImproperlyConfigured("DJANGO_PROXY_COUNT counts our own proxies: 1 or more.")
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
STATIC_ROOT = Path(env.str("PORTAL_STATIC_ROOT", default=str(VAR_DIR / "static")))
# Static files (WhiteNoise, docs/deployment.md "Static files"): with debug off `collectstatic`
# writes each file under a name with its content's hash, and a gzip copy, which the web processes
# serve with `Cache-Control: max-age=315360000, public, immutable`; templates name the hashed
# files. With debug on (development, tests) `runserver` serves the files from their folders.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG
                    else "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

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
# Seconds an SMTP connection may block; the outbox holds its row lock while a handler sends.
EMAIL_TIMEOUT: int = env.int("EMAIL_TIMEOUT", default=30)
#: Operators alerted by e-mail (`mail_admins`), e.g. when the audit log check finds tampering
#: (apps.audit.integrity); comma-separated addresses. Errors are sent from DEFAULT_FROM_EMAIL.
ADMINS: list[tuple[str, str]] = [("", address) for address in env.list("PORTAL_ADMINS", default=[])]
SERVER_EMAIL: str = DEFAULT_FROM_EMAIL

# The outbox (apps.outbox): delivered every few seconds by Celery beat, retried with exponential
# backoff and jitter, given up (kept, visible) after OUTBOX_MAX_ATTEMPTS tries.
OUTBOX_DELIVER_EVERY_SECONDS: float = env.float("OUTBOX_DELIVER_EVERY_SECONDS", default=5.0)
OUTBOX_BATCH_SIZE: int = env.int("OUTBOX_BATCH_SIZE", default=100)
OUTBOX_MAX_ATTEMPTS: int = env.int("OUTBOX_MAX_ATTEMPTS", default=12)
OUTBOX_RETRY_BASE_SECONDS: float = env.float("OUTBOX_RETRY_BASE_SECONDS", default=10.0)
OUTBOX_RETRY_MAX_SECONDS: float = env.float("OUTBOX_RETRY_MAX_SECONDS", default=3600.0)

# Provisioning to downstream SCIM systems (apps.provisioning.push, docs/provisioning.md): the jobs
# due are pushed every PROVISIONING_PUSH_EVERY_SECONDS by Celery beat (and right after a change
# commits); each HTTP request waits at most PROVISIONING_HTTP_TIMEOUT_SECONDS; a claimed job whose
# worker died is taken up again after PROVISIONING_LEASE_SECONDS. Transient failures back off as
# the outbox does (OUTBOX_RETRY_BASE_SECONDS doubled per try, at most OUTBOX_RETRY_MAX_SECONDS).
PROVISIONING_HTTP_TIMEOUT_SECONDS: float = env.float("PROVISIONING_HTTP_TIMEOUT_SECONDS", default=10.0)
PROVISIONING_LEASE_SECONDS: float = env.float("PROVISIONING_LEASE_SECONDS", default=120.0)
PROVISIONING_BATCH_SIZE: int = env.int("PROVISIONING_BATCH_SIZE", default=200)
PROVISIONING_PUSH_EVERY_SECONDS: float = env.float("PROVISIONING_PUSH_EVERY_SECONDS", default=3.0)
#: Users compared per reconciliation step (one page of the target's list, RFC 7644 §3.4.2.4).
PROVISIONING_RECONCILE_PAGE_SIZE: int = env.int("PROVISIONING_RECONCILE_PAGE_SIZE", default=100)


def celery_settings(broker_url: str, var_dir: Path, deliver_every: float) -> dict[str, Any]:
    """Celery configuration; `filesystem://` uses kombu's filesystem transport under `var_dir`.

    Celery beat runs the outbox delivery every `deliver_every` seconds; a tick not started within
    that time is dropped (the next one does the same work), and beat keeps its schedule file under
    `var_dir`.
    """
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
        "CELERY_BEAT_SCHEDULE": {
            "outbox-deliver": {
                "task": "apps.outbox.tasks.outbox_deliver_task",
                "schedule": deliver_every,
                "options": {"expires": deliver_every},
            },
        },
        "CELERY_BEAT_SCHEDULE_FILENAME": str(var_dir / "celerybeat-schedule"),
    }


# `filesystem://localhost/`: kombu warns "No hostname was supplied" for a URL without a host.
globals().update(celery_settings(_required("CELERY_BROKER_URL", "filesystem://localhost/"), VAR_DIR,
                                 OUTBOX_DELIVER_EVERY_SECONDS))
# With JSON logs the worker and beat keep the LOGGING below (one JSON object per line) instead of
# Celery's own console format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT == "plain"

# Periodic tasks (Celery beat), beside the outbox delivery of `celery_settings`. A run that finds
# nothing to do does nothing; `expires` drops runs that waited in the broker past the next one.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    **globals()["CELERY_BEAT_SCHEDULE"],
    # Planned leavers whose last working day has ended (Europe/Stockholm): within 15 minutes.
    "commissions-planned-leaves-apply": {
        "task": "apps.commissions.tasks.planned_leaves_apply_task",
        "schedule": 900.0,
        "options": {"expires": 900},
    },
    # A new CRL before the last one's nextUpdate (1 hour): made when half of it has passed.
    "issuance-crl-refresh": {
        "task": "apps.issuance.tasks.crl_refresh_task",
        "schedule": 600.0,
        "options": {"expires": 600},
    },
    # The delegated OCSP responder's certificate (30 days) is renewed 10 days before its end.
    # IdP metadata (SAML_METADATA_REFRESH_SECONDS decides which are due; missing or refused
    # metadata is retried at every run) and the pruning of expired login states.
    "federation-idp-metadata-refresh": {
        "task": "federation.idp_metadata_refresh_task",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "issuance-ocsp-responder-renew": {
        "task": "apps.issuance.tasks.ocsp_responder_renew_task",
        "schedule": 86400.0,
        "options": {"expires": 3600},
    },
    # Provisioning: push the due jobs to downstream systems; advance running reconciliations.
    "provisioning-push": {
        "task": "apps.provisioning.tasks.provisioning_push_task",
        "schedule": PROVISIONING_PUSH_EVERY_SECONDS,
        "options": {"expires": PROVISIONING_PUSH_EVERY_SECONDS},
    },
    "provisioning-reconcile": {
        "task": "apps.provisioning.tasks.provisioning_reconcile_task",
        "schedule": PROVISIONING_PUSH_EVERY_SECONDS,
        "options": {"expires": PROVISIONING_PUSH_EVERY_SECONDS},
    },
    # Out-of-band login requests, a day after they expired (apps.issuance.retention).
    "issuance-oob-requests-prune": {
        "task": "apps.issuance.tasks.oob_requests_prune_task",
        "schedule": 3600.0,
        "options": {"expires": 3600},
    },
    # Retired OIDC signing keys whose tokens have all expired (apps.federation.oidc.keys).
    "federation-oidc-keys-prune": {
        "task": "federation.oidc_keys_prune_task",
        "schedule": 3600.0,
        "options": {"expires": 3600},
    },
    # Seal each closed UTC day of the audit log once its grace has passed; verify the last two
    # days and the unsealed backlog every day, alerting on any finding (apps.audit.integrity).
    "audit-seal": {
        "task": "apps.audit.tasks.audit_seal_task",
        "schedule": 900.0,
        "options": {"expires": 900},
    },
    "audit-verify": {
        "task": "apps.audit.tasks.audit_verify_task",
        "schedule": 86400.0,
        "options": {"expires": 3600},
    },
    # Commissions and system roles that started or ended by their date since the last run, to
    # the downstream systems (apps.provisioning.schedule): within a minute.
    "provisioning-schedule": {
        "task": "apps.provisioning.tasks.provisioning_schedule_task",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    # The audit log's monthly partitions, PORTAL_AUDIT_PARTITION_MONTHS_AHEAD ahead, and a check
    # that its default partition is empty (apps.audit.partitions).
    "audit-partitions-upkeep": {
        "task": "apps.audit.tasks.audit_partitions_upkeep_task",
        "schedule": 86400.0,
        "options": {"expires": 3600},
    },
    # Months past PORTAL_AUDIT_ONLINE_MONTHS: exported, checked and detached (apps.audit.archive),
    # at night on the first of each month; a missed run's months are done by the next.
    "audit-archive-due": {
        "task": "apps.audit.tasks.audit_archive_due_task",
        "schedule": crontab(minute=30, hour=2, day_of_month=1),
        "options": {"expires": 86400},
    },
}

def audit_life(online_months: int, retention_years: int,
               months_ahead: int) -> tuple[int, int, int]:
    """The audit log's life (docs/audit-log.md, "Retention and archive"): every month stays
    answerable online (attached to `audit_auditevent`) for `online_months` after it ends, at least
    18 (the national log service's rules: 18 months online); it is kept, online or archived, for
    `retention_years` after it ends, at least 5 (HSLF-FS 2016:40 4 kap. 9 §). `months_ahead`
    monthly partitions (at least 1) are created before they are needed. Raises
    ImproperlyConfigured for a lower value; returns the three values."""
    for name, value, least in (("PORTAL_AUDIT_ONLINE_MONTHS", online_months, 18),
                               ("PORTAL_AUDIT_RETENTION_YEARS", retention_years, 5),
                               ("PORTAL_AUDIT_PARTITION_MONTHS_AHEAD", months_ahead, 1)):
        if value < least:
            raise ImproperlyConfigured(f"{name}={value} is too low: at least {least}.")
    if online_months > retention_years * 12:
        raise ImproperlyConfigured("PORTAL_AUDIT_ONLINE_MONTHS is longer than "
                                   "PORTAL_AUDIT_RETENTION_YEARS.")
    return online_months, retention_years, months_ahead


(PORTAL_AUDIT_ONLINE_MONTHS, PORTAL_AUDIT_RETENTION_YEARS,
 PORTAL_AUDIT_PARTITION_MONTHS_AHEAD) = audit_life(
    env.int("PORTAL_AUDIT_ONLINE_MONTHS", default=18),
    env.int("PORTAL_AUDIT_RETENTION_YEARS", default=5),
    env.int("PORTAL_AUDIT_PARTITION_MONTHS_AHEAD", default=3),
)
#: Where the archived months of the audit log are written (compressed file and manifest each),
#: outside the database; back it up like the database (docs/audit-log.md).
PORTAL_AUDIT_ARCHIVE_DIR = Path(env.str("PORTAL_AUDIT_ARCHIVE_DIR",
                                        default=str(VAR_DIR / "audit-archive")))


# The issuing CA's key and certificate live outside the database (key file mode 0600).
ISSUANCE_CA_DIR = Path(env.str("ISSUANCE_CA_DIR", default=str(VAR_DIR / "ca")))
ISSUANCE_CA_NAME: str = env.str("ISSUANCE_CA_NAME", default="Region Demoland Mobile e-ID CA")
ISSUANCE_CA_ORGANISATION: str = env.str("ISSUANCE_CA_ORGANISATION", default="Region Demoland")
ISSUANCE_CERT_VALIDITY_SECONDS: int = env.int("ISSUANCE_CERT_VALIDITY_SECONDS", default=2 * 365 * 86400)


# The local test IdP (apps/testidp, `manage.py testidp`): a SAML IdP for development and tests.
# Enabled exactly when debug is: never with debug off, and not configurable on its own.
TESTIDP_ENABLED: bool = DEBUG
TESTIDP_BASE_URL: str = env.str("TESTIDP_BASE_URL", default="http://127.0.0.1:8001").rstrip("/")
#: The demo e-service (clients/demo_eservice, an OpenID Connect relying party) that `make run`
#: starts with debug on; the demo data registers it as a client with `<url>/callback`.
DEMO_ESERVICE_URL: str = env.str("PORTAL_DEMO_ESERVICE_URL",
                                 default="http://127.0.0.1:8002").rstrip("/")
#: The local SCIM target (scim2-server, `manage.py scim_target`) that `make run` starts with debug
#: on, for registering as a downstream system (docs/provisioning.md); its SCIM base URL is
#: `<url>/v2`.
DEMO_SCIM_TARGET_URL: str = env.str("PORTAL_DEMO_SCIM_TARGET_URL",
                                    default="http://127.0.0.1:8003").rstrip("/")
TESTIDP_KEY_DIR = Path(env.str("TESTIDP_KEY_DIR", default=str(VAR_DIR / "testidp")))
TESTIDP_SP_METADATA_URL: str = env.str("TESTIDP_SP_METADATA_URL",
                                       default=f"{PORTAL_BASE_URL}/saml/metadata/")


def totp_encryption_keys(value: str, name: str = "PORTAL_TOTP_ENCRYPTION_KEYS") -> list[str]:
    """The Fernet keys in `value` (comma-separated, newest first) for secrets stored encrypted in
    the database (TOTP keys, `apps.authn.totp_keys`; downstream systems' credentials,
    `apps.provisioning.credentials`): the first encrypts, every one decrypts. Raises
    ImproperlyConfigured naming the setting `name`, without echoing the value, when one is not a
    Fernet key (32 url-safe base64-encoded bytes)."""
    keys = [key.strip() for key in value.split(",") if key.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: key {position} is not a Fernet key. Make one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key()"
                ".decode())'`."
            ) from None
    if not keys:
        raise ImproperlyConfigured(f"{name} holds no key.")
    return keys


def _development_fernet_key(secret_key: str, purpose: str = "TOTP") -> str:
    """A Fernet key derived from the (development) secret key with HKDF-SHA256 (RFC 5869), one
    per `purpose`."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=f"iam-portal development {purpose} key".encode()).derive(secret_key.encode())
    return base64.urlsafe_b64encode(derived).decode()


# Second factors: the TOTP keys in the database are encrypted with these keys, kept outside it, so
# a copy of the database alone computes no codes (docs/security.md).
PORTAL_TOTP_ENCRYPTION_KEYS: list[str] = totp_encryption_keys(
    _required("PORTAL_TOTP_ENCRYPTION_KEYS", _development_fernet_key(SECRET_KEY))
)
# Provisioning: the credentials of downstream SCIM systems (bearer tokens, OAuth2 client secrets)
# are stored encrypted with these keys, kept outside the database (docs/provisioning.md).
PORTAL_PROVISIONING_CREDENTIAL_KEYS: list[str] = totp_encryption_keys(
    _required("PORTAL_PROVISIONING_CREDENTIAL_KEYS",
              _development_fernet_key(SECRET_KEY, "provisioning credential")),
    "PORTAL_PROVISIONING_CREDENTIAL_KEYS",
)

# Password guessing (OWASP ASVS 2.2.1), counted by django-axes in the database so that every web
# process agrees. Each entry: the request parameters a counter is kept for, and how many failures
# it allows within AXES_COOLOFF_TIME of the last one. Per username only together with the address,
# so an attacker elsewhere cannot lock the owner out (`apps.authn.throttle.LoginThrottle`).
LOGIN_FAILURE_LIMITS: list[tuple[list[str], int]] = [
    (["username", "ip_address"], 10),
    (["ip_address"], 50),
]
AXES_LOCKOUT_PARAMETERS: list[list[str]] = [parameters for parameters, _ in LOGIN_FAILURE_LIMITS]
AXES_FAILURE_LIMIT = 1  # reached when any limit above is (LoginThrottle.get_failures)
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_HANDLER = "apps.authn.throttle.LoginThrottle"
AXES_CLIENT_IP_CALLABLE = "apps.audit.middleware.client_ip"
AXES_LOCKOUT_CALLABLE = "apps.authn.views.lockout_response"
# The audit log records every login; axes keeps only the failure counters (no second access log),
# and a success does not wipe the address's counter.
AXES_DISABLE_ACCESS_LOG = True
AXES_RESET_ON_SUCCESS = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]
AXES_VERBOSE = False  # no start-up banner in every manage.py command

# System programs the portal needs, mapped to their Debian package (checked at start-up).
PORTAL_REQUIRED_PROGRAMS: dict[str, str] = {}

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "apps.api.problems.exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.api.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.api.negotiation.JSONOnlyNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

# The API's OpenAPI description, served at /api/v1/schema (drf-spectacular).
SPECTACULAR_SETTINGS = {
    "OAS_VERSION": "3.1.0",
    "TITLE": "IAM portal API",
    "DESCRIPTION": "The JSON API of the IAM portal (docs/journey-mobile-eid.md). Requests are "
                   "application/json only; every error is application/problem+json (RFC 9457).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
}

# Every record goes to the root logger's one console handler. Django's own default configuration
# gives the "django" logger a console handler of its own (with debug on) that also propagates to
# the root, which printed each 4xx/5xx line of django.request twice; here it has none.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": logging_formatters(),
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes logs every login at INFO; the audit log has them (failures stay at WARNING).
    # pysaml2 logs whole assertions (NameIDs, attributes) at INFO and xmlschema every schema it
    # loads: personal data and noise; the audit log records what matters.
    # httpx2 logs every HTTP request at INFO: a line per provisioning request (failures are
    # logged by apps.provisioning.push).
    "loggers": {"axes": {"level": "WARNING"}, "saml2": {"level": "WARNING"},
                "xmlschema": {"level": "WARNING"}, "httpx2": {"level": "WARNING"},
                "django": {"handlers": [], "level": "INFO", "propagate": True}},
}


def saml_idps(path: str, *, dev_default: bool, key_dir: Path,
              testidp: str = "http://127.0.0.1:8001") -> list[dict[str, str]]:
    """The IdPs the portal trusts (docs/authentication.md, "Adding an IdP"): the JSON list in the
    file `path`, each `{"entity_id", "name", "name_sv", "accounts": "staff"|"patient",
    "metadata_url" or "metadata_file", "metadata_cert_file"}`; without a file, in development,
    the local test IdP's two personalities at `testidp` (`manage.py testidp`). Raises ImproperlyConfigured for
    a file that is not such a list."""
    if not path:
        if not dev_default:
            return []
        base = testidp
        cert = str(key_dir / "metadata-cert.pem")
        return [
            {"entity_id": f"{base}/staff/metadata", "name": "Organisation e-ID (test IdP)",
             "name_sv": "Organisationens e-legitimation (test-IdP)", "accounts": "staff",
             "metadata_url": f"{base}/staff/metadata", "metadata_cert_file": cert},
            {"entity_id": f"{base}/citizen/metadata", "name": "Citizen e-ID (test IdP)",
             "name_sv": "E-legitimation för privatpersoner (test-IdP)", "accounts": "patient",
             "metadata_url": f"{base}/citizen/metadata", "metadata_cert_file": cert},
        ]
    import json

    try:
        entries = json.loads(Path(path).read_text())
        assert isinstance(entries, list)
        for entry in entries:
            assert entry["accounts"] in ("staff", "patient") and entry["entity_id"]
            assert entry.get("metadata_url") or entry.get("metadata_file")
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as exc:
        raise ImproperlyConfigured(f"SAML_IDPS_FILE {path}: not a list of IdPs ({exc}).") from None
    return [{key: str(value) for key, value in entry.items()} for entry in entries]


# Federated login: the portal as a SAML2 service provider (apps.federation, docs/authentication.md).
SAML_SP_ENTITY_ID: str = env.str("SAML_SP_ENTITY_ID", default=f"{PORTAL_BASE_URL}/saml/metadata/")
SAML_SP_KEY_FILE = Path(env.str("SAML_SP_KEY_FILE", default=str(VAR_DIR / "saml" / "sp-key.pem")))
SAML_SP_CERT_FILE = Path(env.str("SAML_SP_CERT_FILE",
                                 default=str(VAR_DIR / "saml" / "sp-cert.pem")))
SAML_XMLSEC_BINARY: str = env.str("SAML_XMLSEC_BINARY", default="/usr/bin/xmlsec1")
SAML_IDPS = saml_idps(env.str("SAML_IDPS_FILE", default=""), dev_default=TESTIDP_ENABLED,
                      key_dir=TESTIDP_KEY_DIR, testidp=TESTIDP_BASE_URL)
#: Allowed clock difference with an IdP when checking NotBefore/NotOnOrAfter (seconds).
SAML_CLOCK_SKEW_SECONDS: int = env.int("SAML_CLOCK_SKEW_SECONDS", default=60)
#: How long an AuthnRequest may wait for its answer (seconds).
SAML_REQUEST_MAX_AGE_SECONDS: int = env.int("SAML_REQUEST_MAX_AGE_SECONDS", default=300)
SAML_METADATA_REFRESH_SECONDS: int = env.int("SAML_METADATA_REFRESH_SECONDS", default=3600)
#: The level asked of the IdP at login (empty: none asked; any known level of 2 or more accepted)
#: and at a step-up (ForceAuthn with at least this level).
SAML_LOGIN_LOA: str = env.str("SAML_LOGIN_LOA", default="")
SAML_STEP_UP_LOA: str = env.str("SAML_STEP_UP_LOA", default="http://id.elegnamnden.se/loa/1.0/loa3")
SAML_CONFIG_LOADER = "apps.federation.saml.config_loader"


def _development_pepper(secret_key: str) -> str:
    """A client-secret pepper derived from the (development) secret key with HKDF-SHA256
    (RFC 5869), hex."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"iam-portal development OAuth client secret pepper").derive(
        secret_key.encode()).hex()


# The identity provider for e-services (apps.federation.oidc, docs/identity-provider.md): OAuth 2.0
# and OpenID Connect by django-oauth-toolkit, every model of it swapped for the federation app's.
OAUTH2_PROVIDER_APPLICATION_MODEL = "federation.Client"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "federation.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "federation.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "federation.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "federation.Grant"
#: The issuer identifier (OpenID Connect Discovery 1.0 section 3; RFC 8414 section 2): the
#: portal's own address, with discovery at /.well-known/openid-configuration below it.
OIDC_ISSUER: str = env.str("PORTAL_OIDC_ISSUER", default=PORTAL_BASE_URL).rstrip("/")
#: Signing keys of ID tokens (ES256 and RS256, PEM, mode 0600), outside the database
#: (`manage.py oidc_keys_init` creates the missing ones).
OIDC_KEY_DIR = Path(env.str("PORTAL_OIDC_KEY_DIR", default=str(VAR_DIR / "oidc")))
#: Client secrets are stored as HMAC-SHA-256 under this server-side key (hex or any long string;
#: docs/identity-provider.md, "Client secrets"). Changing it invalidates every client secret.
#: The audience (`aud`) of every access token: the portal's APIs (RFC 9068 2.2;
#: docs/decisions.md).
OAUTH_ACCESS_TOKEN_AUDIENCE: str = env.str("PORTAL_OAUTH_ACCESS_TOKEN_AUDIENCE",
                                           default=f"{OIDC_ISSUER}/api/")
#: Client IDs of the resource servers that may introspect any access token of that audience
#: (RFC 7662 4); every other client introspects only its own tokens (docs/decisions.md).
OAUTH_RESOURCE_SERVER_CLIENT_IDS: list[str] = env.list("PORTAL_OAUTH_RESOURCE_SERVER_CLIENT_IDS",
                                                       default=[])
OAUTH_CLIENT_SECRET_PEPPER: str = _required("PORTAL_OAUTH_CLIENT_SECRET_PEPPER",
                                            _development_pepper(SECRET_KEY))
if len(OAUTH_CLIENT_SECRET_PEPPER) < 32:
    raise ImproperlyConfigured("PORTAL_OAUTH_CLIENT_SECRET_PEPPER must be at least 32 characters.")


def oauth2_provider_settings(*, issuer: str, access_token_seconds: int, id_token_seconds: int,
                             refresh_token_seconds: int) -> dict[str, Any]:
    """django-oauth-toolkit's namespaced settings (`OAUTH2_PROVIDER`) for the portal's profile of
    OAuth 2.0 and OpenID Connect (docs/identity-provider.md). Lifetimes are in seconds.

    - Authorization code with PKCE for every client (RFC 7636; RFC 9700 2.1.1), S256 only
      (`plain` refused by the validator and by DOT's RFC 9700 gate); codes live 60 seconds
      (RFC 6749 4.1.2 recommends at most 10 minutes) and are single use.
    - Refresh tokens rotate at every use, and presenting a used one revokes its whole family
      (RFC 9700 4.14.2); no grace period.
    - Only the code, refresh and client credentials grants; no implicit, no password grant
      (RFC 9700 2.1.2 and 2.4), no hybrid or device flow.
    - RFC 9207 `iss` in every authorization response.
    Raises ImproperlyConfigured for a lifetime that is not positive.
    """
    for name, seconds in (("ACCESS_TOKEN", access_token_seconds), ("ID_TOKEN", id_token_seconds),
                          ("REFRESH_TOKEN", refresh_token_seconds)):
        if seconds <= 0:
            raise ImproperlyConfigured(f"PORTAL_OAUTH_{name}_SECONDS must be a positive number "
                                       "of seconds.")
    return {
        "OAUTH2_VALIDATOR_CLASS": "apps.federation.oidc.validator.PortalValidator",
        "OIDC_ENABLED": True,
        "OIDC_ISS_ENDPOINT": issuer,
        # The scopes a client's registration may allow (OIDC Core 3.1.2.1 and 5.4; the Swedish
        # OIDC framework's identity number scope; the portal's commission scope). The claims
        # each releases: apps.federation.oidc.claims.SCOPE_CLAIMS. `access.evaluate` releases no
        # claim: it lets a system (client credentials) ask the rules service for access
        # decisions (OpenID AuthZEN, docs/authzen.md); `scim` releases none either: it lets an HR
        # system (client credentials) use the inbound SCIM server (docs/scim-inbound.md).
        "SCOPES": {"openid": "OpenID Connect", "profile": "Name (OIDC Core 5.4)",
                   "https://id.oidc.se/scope/naturalPersonNumber": "Identity number",
                   "commission": "Employee HSA-id and the chosen commission (Sambi)",
                   "access.evaluate": "Ask the rules service for access decisions (AuthZEN)",
                   "scim": "Provision staff and roles over SCIM 2.0 (HR systems)"},
        "DEFAULT_SCOPES": ["openid"],
        "PKCE_REQUIRED": True,
        "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
        "ACCESS_TOKEN_EXPIRE_SECONDS": access_token_seconds,
        "ID_TOKEN_EXPIRE_SECONDS": id_token_seconds,
        "REFRESH_TOKEN_EXPIRE_SECONDS": refresh_token_seconds,
        # Access tokens are RFC 9068 JWTs (apps.federation.oidc.access_tokens); refresh tokens
        # stay opaque random strings (oauthlib's generator, which DOT would otherwise replace
        # with the access token's).
        "ACCESS_TOKEN_GENERATOR": "apps.federation.oidc.access_tokens.generate",
        "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
        "ROTATE_REFRESH_TOKEN": True,
        "REFRESH_TOKEN_REUSE_PROTECTION": True,
        "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
        "REQUEST_APPROVAL_PROMPT": "force",
        # DOT's default hook serves only the device flow, which the portal does not offer.
        "OAUTH_PRE_TOKEN_VALIDATION": [],
        # Redirect URIs are checked by the client model (https, or http on a loopback address for
        # native clients, RFC 8252 7.3) and matched as exact strings.
        "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
        "ALLOW_URI_WILDCARDS": False,
        "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
        "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
        "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token",
                                         "client_credentials"],
        "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic",
                                                       "client_secret_post", "none"],
        "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic",
                                                         "client_secret_post", "none"],
        # RFC 9700 behaviour gates of DOT 3: all on (refuse the insecure variant).
        "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
        "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
        "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
        "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
        "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
        "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
        "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
        # http stays allowed for loopback redirects of native clients (RFC 8252 7.3); the client
        # model refuses http anywhere else, so this gate would only refuse what is allowed.
        "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": False,
        "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
        "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
        # OIDC RP-Initiated Logout 1.0 at /oauth2/logout/ (apps.federation.oidc.logout): the
        # confirmation is asked when the spec says it MUST be (section 2: no valid
        # `id_token_hint` of the logged-in person), an expired hint is accepted (section 2
        # allows it), and the session's tokens end through the portal's logout
        # (authn.signals.session_ended), not through DOT's deletion of all the user's tokens.
        "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
        "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
        "OIDC_RP_INITIATED_LOGOUT_ACCEPT_EXPIRED_TOKENS": True,
        "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": False,
    }


OAUTH2_PROVIDER: dict[str, Any] = oauth2_provider_settings(
    issuer=OIDC_ISSUER,
    access_token_seconds=env.int("PORTAL_OAUTH_ACCESS_TOKEN_SECONDS", default=300),
    id_token_seconds=env.int("PORTAL_OAUTH_ID_TOKEN_SECONDS", default=300),
    refresh_token_seconds=env.int("PORTAL_OAUTH_REFRESH_TOKEN_SECONDS", default=8 * 3600),
)


# Tamper evidence of the audit log (apps.audit.integrity, docs/audit-log.md "Tamper evidence"):
# each closed UTC day's rows are chained and the chain signed with an Ed25519 key kept outside
# the database (mode 0600), made by `manage.py audit_seal_key_init`; the public keys of current
# and retired keys are kept in a folder as `<key id>.pub.pem`, so older seals still verify.
PORTAL_AUDIT_SEAL_KEY_FILE = Path(_required("PORTAL_AUDIT_SEAL_KEY_FILE",
                                            str(VAR_DIR / "audit-seal" / "seal-key.pem")))
PORTAL_AUDIT_SEAL_PUBLIC_KEY_DIR = Path(env.str("PORTAL_AUDIT_SEAL_PUBLIC_KEY_DIR",
                                                default=str(PORTAL_AUDIT_SEAL_KEY_FILE.parent
                                                            / "public")))
#: Seconds after a UTC day's end before it is sealed: longer than any transaction that writes an
#: audit row may last, so no row of the day can still commit after its seal.
PORTAL_AUDIT_SEAL_GRACE_SECONDS: int = env.int("PORTAL_AUDIT_SEAL_GRACE_SECONDS", default=3600)
if PORTAL_AUDIT_SEAL_GRACE_SECONDS < 0:
    raise ImproperlyConfigured("PORTAL_AUDIT_SEAL_GRACE_SECONDS must not be negative.")

"""Shared fixtures: a small organisation tree, actors (local admin, issuer, staff, patient) and
`assert_audited`. Everything is built through the services, so it is audited like real data."""

from __future__ import annotations

import itertools
import unicodedata
from binascii import unhexlify
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone, translation
from django_otp.oath import totp

from apps.audit.models import AuditEvent
from apps.authn import services as authn
from apps.commissions import services as commissions
from apps.commissions.models import Employee, Role
from apps.core.actors import SYSTEM
from apps.core.loa import LOA3
from apps.identities import services as identities
from apps.identities.identifiers import make_person_number
from apps.identities.models import Person, User
from apps.organisations.models import Organisation
from apps.organisations.services import organisation_create

PASSWORD = "correct horse battery staple"
TOTP_KEY = "3132333435363738393031323334353637383930"  # RFC 6238 test key, hex


@pytest.fixture(autouse=True)
def english_ui(settings: Any) -> Iterator[None]:
    """Tests read the English source strings, so English is the default language in tests.

    The portal's real default is Swedish (LANGUAGE_CODE "sv"); tests/test_i18n.py overrides this
    fixture to check that. `override` also undoes the language LocaleMiddleware leaves active
    after a request, so one test's language never leaks into the next.
    """
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def tree(db: Any) -> dict[str, Organisation]:
    """Region (care provider) → hospital → two care units; a second, separate care provider."""
    region = organisation_create(actor=SYSTEM, hsa_id="SE2321000016-0001", name="Region Demo",
                                 is_care_provider=True, org_number="232100-0016")
    hospital = organisation_create(actor=SYSTEM, hsa_id="SE2321000016-0100",
                                   name="Demo Hospital", parent=region)
    cardio = organisation_create(actor=SYSTEM, hsa_id="SE2321000016-0101", name="Cardiology",
                                 parent=hospital, is_care_unit=True)
    ortho = organisation_create(actor=SYSTEM, hsa_id="SE2321000016-0102",
                                name="Orthopaedics", parent=hospital, is_care_unit=True)
    primary = organisation_create(actor=SYSTEM, hsa_id="SE2321000016-0200",
                                  name="Primary Care Centre North", parent=region,
                                  is_care_unit=True)
    other = organisation_create(actor=SYSTEM, hsa_id="SE5560360793-0001", name="Other Care AB",
                                is_care_provider=True, org_number="556036-0793")
    other_unit = organisation_create(actor=SYSTEM, hsa_id="SE5560360793-0002",
                                     name="Other Clinic", parent=other, is_care_unit=True)
    return {"region": region, "hospital": hospital, "cardio": cardio, "ortho": ortho,
            "primary": primary, "other": other, "other_unit": other_unit}


_serial = itertools.count()


def next_person_number() -> str:
    """A new personnummer for a test person, unique in the test process: birth numbers 100-999
    of 1980-05-17, then of each following day."""
    n = next(_serial)
    return make_person_number(date(1980, 5, 17) + timedelta(days=n // 900), 100 + n % 900)


def ascii_username(*names: str) -> str:
    """`names` joined by "." in lower case, accents dropped: ("Pia", "Primär") → "pia.primar"."""
    decomposed = unicodedata.normalize("NFKD", ".".join(names).lower())
    return decomposed.encode("ascii", "ignore").decode()


def make_staff(
    unit: Organisation, given: str, family: str, *, username: str | None = None,
    totp: bool = True, care: bool = False,
) -> tuple[User, Employee]:
    """A staff member with an employee HSA-id at `unit`, a login account and a TOTP device; with
    `care`, also an active care commission at `unit` (a working staff member). The username
    defaults to `given.family` without accents (usernames are ASCII: "Pia Primär" is
    `pia.primar`)."""
    person = identities.person_create(
        actor=SYSTEM, given_name=given, family_name=family,
        person_number=next_person_number(),
        email=f"{given.lower()}@example.invalid",
    )
    employee = commissions.employee_create(actor=SYSTEM, person=person, organisation=unit)
    user = identities.user_create(actor=SYSTEM, person=person,
                                  username=username or ascii_username(given, family),
                                  kind=User.Kind.STAFF, password=PASSWORD)
    if totp:
        authn.totp_device_create(actor=SYSTEM, user=user, key_hex=TOTP_KEY)
    if care:
        commissions.commission_grant(
            actor=SYSTEM, employee=employee, care_unit=unit, purpose="Vård och behandling",
            rights=["Läsa;alla;VE"], valid_from=timezone.now() - timedelta(days=1),
            valid_until=None)
    return user, employee


@pytest.fixture
def hospital_admin(tree: dict[str, Organisation]) -> User:
    """Local administrator over Demo Hospital (not over primary care or the other provider)."""
    user, _ = make_staff(tree["hospital"], "Astrid", "Admin")
    commissions.role_grant(actor=SYSTEM, person=user.person, role=Role.LOCAL_ADMIN,
                           organisation=tree["hospital"], valid_from=timezone.now(),
                           valid_until=None)
    return user


@pytest.fixture
def issuer(tree: dict[str, Organisation]) -> User:
    """An e-ID issuer over the whole region."""
    user, _ = make_staff(tree["region"], "Ivar", "Issuer")
    commissions.role_grant(actor=SYSTEM, person=user.person, role=Role.ISSUER,
                           organisation=tree["region"], valid_from=timezone.now(),
                           valid_until=None)
    return user


@pytest.fixture
def nurse(tree: dict[str, Organisation]) -> tuple[User, Employee]:
    """A nurse at Cardiology with an active care commission."""
    user, employee = make_staff(tree["cardio"], "Nina", "Nurse")
    commissions.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=tree["cardio"],
        purpose="Vård och behandling", rights=["Läsa;alla;VE", "Skriva;alla;VE"],
        valid_from=timezone.now() - timedelta(days=1), valid_until=None,
    )
    return user, employee


@pytest.fixture
def patient(db: Any) -> User:
    """Tolvan Tolvansson, the test patient of Swedish e-health, with a patient account."""
    person = identities.person_create(actor=SYSTEM, given_name="Tolvan",
                                      family_name="Tolvansson", person_number="19121212-1212")
    return identities.user_create(actor=SYSTEM, person=person, username="tolvan",
                                  kind=User.Kind.PATIENT)


@pytest.fixture
def assert_audited() -> Any:
    """`assert_audited(action, target=None, subject=None)` → the newest matching event."""

    def check(action: str, *, target: Any = None, subject: Person | None = None,
              outcome: str = "success") -> AuditEvent:
        events = AuditEvent.objects.filter(action=action, outcome=outcome)
        if target is not None:
            events = events.filter(target_id=str(target.pk))
        if subject is not None:
            events = events.filter(subject_person_id=subject.pk)
        event = events.first()
        assert event is not None, f"no {outcome} audit event {action}"
        return event

    return check


#: The IdP a test-only federated login names (no real SAML exchange takes place).
TEST_IDP = "https://idp.test/"


def login_session(client: Any, user: User, *, loa: str | None = LOA3,
                  methods: tuple[str, ...] = ("saml",), idp: str | None = TEST_IDP) -> Any:
    """Log `client` in as `user` the way a completed login leaves the session
    (`apps.authn.session.set_login`, then the choice of commission), without the login pages: by
    default a federated (SAML) login at LoA 3 from TEST_IDP, which administration and issuing for
    others need. The real
    password+TOTP login (LoA 2) is what the login tests and the LoA refusal tests use."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import login
    from django.http import HttpRequest

    from apps.authn import commission, session

    request = HttpRequest()
    request.META["HTTP_USER_AGENT"] = "pytest"
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.user = user
    session.set_login(request, loa=loa, methods=list(methods), idp=idp)
    commission.after_login(request, user)  # one valid commission is chosen, as after any login
    request.session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key
    return client


def patient_login(client: Any, user: User) -> Any:
    """Log `client` in as the patient `user` as a citizen e-ID login at LoA 3 leaves the session,
    without the login pages (tests/federation drives the real login)."""
    return login_session(client, user)


def totp_now(key_hex: str = TOTP_KEY, offset_steps: int = 0) -> str:
    """The RFC 6238 code for `key_hex` at now + `offset_steps` 30-second steps.

    django-otp accepts one step of drift and refuses a step already used, so a second login in
    the same half-minute uses `offset_steps=1`.
    """
    return f"{totp(unhexlify(key_hex), step=30, t0=0, digits=6, drift=offset_steps):06d}"


@pytest.fixture
def otp_clock(monkeypatch: Any) -> Any:
    """django-otp's clock, moved by hand: set or advance `otp_clock.now` (Unix seconds). Codes
    from `totp_now` and the portal's checks both read it; the throttle's waits stay on real time."""
    import time
    from types import SimpleNamespace

    clock = SimpleNamespace(now=float(int(time.time()) // 30 * 30 + 1))

    def now() -> float:
        return clock.now

    monkeypatch.setattr("django_otp.oath.time", now)
    monkeypatch.setattr("django_otp.plugins.otp_totp.models.time", SimpleNamespace(time=now))
    return clock


def pytest_configure(config: Any) -> None:
    """In CI the tests must run on PostgreSQL: fail early instead of falling back to SQLite."""
    import os

    from django.conf import settings

    if os.environ.get("CI") and settings.DATABASES["default"]["ENGINE"] != (
        "django.db.backends.postgresql"
    ):
        raise pytest.UsageError("CI=true but DATABASE_URL does not point at PostgreSQL")


@pytest.fixture
def issuing_ca(settings: Any, tmp_path: Any) -> Any:
    """The portal's issuing CA, created in a temporary folder for this test."""
    from tests.issuance.support import use_temporary_ca

    return use_temporary_ca(settings, tmp_path / "ca")


@pytest.fixture
def federation(db: Any, settings: Any) -> Any:
    """The test IdP's two personalities (staff and citizen), trusted by the portal with their
    signed metadata checked as in production (tests/federation/support.py drives logins)."""
    from apps.testidp.idp import TestIdP
    from tests.federation.support import Federation, sp_metadata, trust

    metadata = sp_metadata()
    found = Federation(idps={
        name: TestIdP(name, key_dir=settings.TESTIDP_KEY_DIR, sp_metadata=metadata)
        for name in ("staff", "citizen")})
    found.rows.update(trust(found.idps))
    return found


def invitation_path() -> str:
    """The path (`/invitation/<token>/`) in the newest e-mail sent: a joiner's invitation."""
    import re

    from django.core import mail

    match = re.search(r"(/invitation/[A-Za-z0-9_-]+/)", str(mail.outbox[-1].body))
    assert match is not None, "no invitation link in the newest e-mail"
    return match.group(1)

"""Second factors stored and checked like secrets: TOTP keys encrypted with keys outside the
database (rotatable, migrated from django-otp's plaintext table), each device throttled on its
own, a used code refused as used, and each code accepted once under concurrency."""

from __future__ import annotations

import re
import threading
from base64 import b32encode
from binascii import unhexlify
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.authn import services
from apps.authn.models import TOTPDevice
from apps.core.actors import ANONYMOUS, SYSTEM
from apps.core.errors import ValidationFailed
from tests.conftest import PASSWORD, TOTP_KEY, login_session, make_staff, totp_now

OTHER_KEY = "00112233445566778899aabbccddeeff00112233"


def log_in(client, user, *, key=TOTP_KEY, offset_steps=0, address="127.0.0.1"):
    """Password, then the code of the device with `key`; the answer of the second step."""
    response = client.post(reverse("authn:login"), {"username": user.username,
                                                    "password": PASSWORD}, REMOTE_ADDR=address)
    assert response.status_code == 302, response.content.decode()
    return client.post(reverse("authn:otp"), {"token": totp_now(key, offset_steps)},
                       HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR=address)


def error_text(response):
    """The form's error messages on the page, as the user reads them."""
    form = response.context["form"]
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def raw_device_rows():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {TOTPDevice._meta.db_table}")
        return cursor.fetchall()


def key_forms(key_hex):
    """The ways a key could be written down: hex, base32 (as in otpauth URIs) and the raw bytes."""
    key = unhexlify(key_hex)
    return [key_hex.lower(), key_hex.upper(), b32encode(key).decode(), b32encode(key).decode().lower(),
            key.decode("latin-1")]


def test_the_database_holds_no_totp_key_and_the_code_still_verifies(client, hospital_admin):
    rows = raw_device_rows()
    assert len(rows) == 1
    dump = repr(rows)
    for form in key_forms(TOTP_KEY):
        assert form not in dump
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM otp_totp_totpdevice")
        assert cursor.fetchone() == (0,)  # django-otp's plaintext table is not used
    assert log_in(client, hospital_admin).status_code == 302


def test_a_copy_of_the_database_alone_computes_no_codes(settings, hospital_admin):
    """Someone with the rows but not the key from the settings cannot read the TOTP key."""
    device = TOTPDevice.objects.get(user=hospital_admin)
    settings.PORTAL_TOTP_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(InvalidToken):
        device.bin_key  # noqa: B018


def test_key_rotation_reads_old_keys_and_writes_with_the_new_one(client, settings, hospital_admin,
                                                                 issuer, assert_audited):
    old = settings.PORTAL_TOTP_ENCRYPTION_KEYS[0]
    new = Fernet.generate_key().decode()
    settings.PORTAL_TOTP_ENCRYPTION_KEYS = [new, old]

    before = TOTPDevice.objects.get(user=hospital_admin)
    assert before.bin_key == unhexlify(TOTP_KEY)  # made with the old key, still read
    created = services.totp_device_create(actor=SYSTEM, user=issuer, key_hex=OTHER_KEY)
    assert Fernet(new).decrypt(created.encrypted_key.encode()) == unhexlify(OTHER_KEY)
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(created.encrypted_key.encode())

    out = StringIO()
    call_command("totp_keys_rotate", stdout=out)
    assert "Re-encrypted 3 TOTP keys" in out.getvalue()  # the issuer's, the admin's, the new one
    settings.PORTAL_TOTP_ENCRYPTION_KEYS = [new]  # the old key is gone from the settings
    after = TOTPDevice.objects.get(pk=before.pk)
    assert after.encrypted_key != before.encrypted_key
    assert after.bin_key == unhexlify(TOTP_KEY)
    assert log_in(client, hospital_admin).status_code == 302
    assert_audited("otp_device.rekeyed", target=after, subject=hospital_admin.person)


def test_rotation_changes_nothing_when_a_key_is_missing(settings, hospital_admin):
    device = TOTPDevice.objects.get(user=hospital_admin)
    settings.PORTAL_TOTP_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the old one dropped
    with pytest.raises(InvalidToken):
        services.totp_keys_rotate(actor=SYSTEM)
    assert TOTPDevice.objects.get(pk=device.pk).encrypted_key == device.encrypted_key
    assert not AuditEvent.objects.filter(action="otp_device.rekeyed").exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_plaintext_keys(client, hospital_admin):
    """A database from before this change keeps its devices: the migration encrypts each key
    (and going back decrypts them into django-otp's table)."""
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("authn", "0001_totp_device")])
        old_apps = executor.loader.project_state([("authn", "0001_totp_device"),
                                                  ("otp_totp", "0003_add_timestamps")]).apps
        plain_model = old_apps.get_model("otp_totp", "TOTPDevice")
        assert [d.key for d in plain_model.objects.all()] == [TOTP_KEY]  # reversed: plaintext
        plain_model.objects.create(user_id=hospital_admin.pk, name="Phone", key=OTHER_KEY,
                                   last_t=7, throttling_failure_count=2)
    finally:
        executor = MigrationExecutor(connection)
        # Back to the newest, every app: migrations of other apps that depend on authn's (the
        # OIDC provider's tokens name the login session) were unapplied on the way down.
        executor.migrate(executor.loader.graph.leaf_nodes())

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM otp_totp_totpdevice")
        assert cursor.fetchone() == (0,)
    dump = repr(raw_device_rows())
    for form in key_forms(TOTP_KEY) + key_forms(OTHER_KEY):
        assert form not in dump
    devices = TOTPDevice.objects.filter(user=hospital_admin).order_by("pk")
    assert [d.bin_key for d in devices] == [unhexlify(TOTP_KEY), unhexlify(OTHER_KEY)]
    assert (devices[1].name, devices[1].last_t, devices[1].throttling_failure_count) == ("Phone", 7, 2)
    assert log_in(client, hospital_admin).status_code == 302


def test_codes_of_one_device_never_count_against_the_other(client, hospital_admin, otp_clock):
    """Found: successes on the second device raised the first device's failure count until
    valid codes were refused ("Too many wrong codes")."""
    second = services.totp_device_create(actor=SYSTEM, user=hospital_admin, key_hex=OTHER_KEY)
    first = TOTPDevice.objects.get(user=hospital_admin, name="TOTP", pk__lt=second.pk)
    for login_number in range(12):
        otp_clock.now += 30  # a new code every login, no real waiting
        key = OTHER_KEY if login_number % 3 else TOTP_KEY
        response = log_in(client, hospital_admin, key=key)
        assert response.status_code == 302, (login_number, error_text(response))
        client.post(reverse("authn:logout"))
    for device in (first, second):
        device.refresh_from_db()
        assert device.throttling_failure_count == 0


def test_a_valid_code_works_until_its_own_device_is_throttled(client, hospital_admin, otp_clock):
    second = services.totp_device_create(actor=SYSTEM, user=hospital_admin, key_hex=OTHER_KEY)
    first = TOTPDevice.objects.get(user=hospital_admin, pk__lt=second.pk)
    # The first device waits after five wrong codes in a row (2^4 = 16 seconds).
    TOTPDevice.objects.filter(pk=first.pk).update(throttling_failure_count=5,
                                                  throttling_failure_timestamp=timezone.now())
    assert log_in(client, hospital_admin, key=OTHER_KEY).status_code == 302
    client.post(reverse("authn:logout"))
    otp_clock.now += 30
    refused = log_in(client, hospital_admin, key=TOTP_KEY)
    assert "the next try must wait a few seconds" in error_text(refused)
    first.refresh_from_db()
    assert first.throttling_failure_count == 5  # not tried while waiting


def test_a_wrong_code_counts_on_every_device_it_was_tried_against(client, hospital_admin):
    second = services.totp_device_create(actor=SYSTEM, user=hospital_admin, key_hex=OTHER_KEY)
    client.post(reverse("authn:login"), {"username": hospital_admin.username, "password": PASSWORD})
    wrong = "000000" if totp_now() != "000000" and totp_now(OTHER_KEY) != "000000" else "111111"
    response = client.post(reverse("authn:otp"), {"token": wrong}, HTTP_ACCEPT_LANGUAGE="en")
    assert "The code is wrong or has expired" in error_text(response)
    counts = TOTPDevice.objects.filter(user=hospital_admin).values_list("throttling_failure_count",
                                                                        flat=True)
    assert sorted(counts) == [1, 1]
    assert second.pk


def test_the_code_used_to_log_in_is_refused_as_used_at_step_up(client, hospital_admin, otp_clock):
    """Found: the code still on the phone right after login answered "wrong or expired"."""
    assert log_in(client, hospital_admin).status_code == 302
    response = client.post(reverse("authn:step_up"), {"token": totp_now()},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert error_text(response) == ("This code has already been used. Wait for the next code in "
                                    "your authenticator app (at most 30 seconds) and enter that one.")
    assert TOTPDevice.objects.get(user=hospital_admin).throttling_failure_count == 0
    otp_clock.now += 30
    assert client.post(reverse("authn:step_up"), {"token": totp_now()}).status_code == 302


def test_a_code_used_on_one_device_is_refused_as_used_with_two(client, hospital_admin, otp_clock):
    second = services.totp_device_create(actor=SYSTEM, user=hospital_admin, key_hex=OTHER_KEY)
    assert log_in(client, hospital_admin, key=OTHER_KEY).status_code == 302
    response = client.post(reverse("authn:step_up"), {"token": totp_now(OTHER_KEY)},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert "This code has already been used." in error_text(response)
    assert sorted(TOTPDevice.objects.filter(user=hospital_admin)
                  .values_list("throttling_failure_count", flat=True)) == [0, 0]
    assert second.pk


def test_step_ups_show_as_step_ups_in_the_history(client, tree, hospital_admin, otp_clock):
    """The person page's history names a step-up as a step-up, not as a login attempt."""
    olle, _ = make_staff(tree["ortho"], "Olle", "Ortoped")
    staff = Client()
    assert log_in(staff, olle).status_code == 302
    staff.post(reverse("authn:step_up"), {"token": totp_now()})  # the login's code: refused
    otp_clock.now += 30
    assert staff.post(reverse("authn:step_up"), {"token": totp_now()}).status_code == 302
    login_session(client, hospital_admin)  # administration needs LoA 3
    page = client.get(reverse("administration:person_detail", kwargs={"person_id": olle.person.pk}),
                      HTTP_ACCEPT_LANGUAGE="en")
    body = " ".join(re.sub(r"<[^>]+>", " ", page.content.decode()).split())
    assert "Step-up: identity confirmation (failed)" in body
    assert "Step-up: identity confirmed again" in body
    assert body.count("Login attempt") == 0
    assert AuditEvent.objects.filter(action="step_up.failed", subject_person_id=olle.person.pk,
                                     changes__step=[None, "step_up"]).count() == 1


PARALLEL = 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_uses_of_one_code_accept_it_once(hospital_admin):
    """The same code sent by several requests at once (say, a phished code replayed while the
    owner logs in) is accepted by exactly one: the device row is locked while it is checked."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the proof relies on row locks (SELECT ... FOR UPDATE), "
                    "which SQLite does not have; run with DATABASE_URL=postgres://...")
    code = totp_now()
    start = threading.Barrier(PARALLEL)
    outcomes: list[str] = []
    lock = threading.Lock()

    def check() -> None:
        try:
            start.wait()
            try:
                services.otp_check(actor=ANONYMOUS, user=hospital_admin, token=code)
                outcome = "accepted"
            except ValidationFailed as exc:
                outcome = exc.code
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["accepted"] + ["otp.used"] * (PARALLEL - 1)
    device = TOTPDevice.objects.get(user=hospital_admin)
    assert device.throttling_failure_count == 0
    assert AuditEvent.objects.filter(action="login.failed", changes__step=[None, "otp"]).count() == (
        PARALLEL - 1)

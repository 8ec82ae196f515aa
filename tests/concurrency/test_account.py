"""My account's changes under concurrency: one step-up proof authorises one change however many
requests carry it at once (its nonce is spent under a unique constraint), and one code of the
new authenticator confirms it once (the devices are locked; RFC 6238 5.2)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import RequestFactory

from apps.audit.models import AuditEvent
from apps.authn import account
from apps.authn.models import TOTPDevice
from apps.core.assurance import mint_step_up
from apps.core.errors import PortalError
from apps.core.loa import LOA2
from tests.concurrency.support import at_once
from tests.conftest import PASSWORD, totp_now

PARALLEL = 6


def _outcome(call):
    def run():
        try:
            call()
            return "ok"
        except PortalError as exc:
            return exc.code
        finally:
            connection.close()
    return run


@pytest.mark.django_db(transaction=True)
def test_one_step_up_changes_the_password_once(hospital_admin):
    proof = mint_step_up(hospital_admin.pk, "otp", loa=LOA2)

    def change(n):
        return lambda: account.password_change(
            actor=hospital_admin, request=RequestFactory().post("/", REMOTE_ADDR="10.9.9.9"),
            current_password=PASSWORD, new_password=f"ett nytt lösen nummer {n}", step_up=proof)

    outcomes = at_once([_outcome(change(n)) for n in range(PARALLEL)])
    # The others find the proof spent, or (checked after the winner committed) the password
    # they typed no longer current.
    assert outcomes.count("ok") == 1
    assert set(outcomes) <= {"ok", "second_factor.required", "password.wrong"}
    assert AuditEvent.objects.filter(action="password.changed").count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_code_of_the_new_authenticator_confirms_it_once(hospital_admin):
    new = account.totp_enrolment_start(actor=hospital_admin)
    code = totp_now(new.bin_key.hex())
    proofs = [mint_step_up(hospital_admin.pk, "otp", loa=LOA2) for _ in range(PARALLEL)]

    def replace(proof):
        return lambda: account.totp_device_replace(actor=hospital_admin, new_token=code,
                                                   step_up=proof)

    outcomes = at_once([_outcome(replace(proof)) for proof in proofs])
    assert outcomes.count("ok") == 1
    assert set(outcomes) <= {"ok", "otp.new_wrong", "otp.no_pending"}
    assert list(TOTPDevice.objects.filter(user=hospital_admin)) == [new]
    assert AuditEvent.objects.filter(action="otp_device.replaced").count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_step_up_changes_the_e_mail_address_once(hospital_admin):
    proof = mint_step_up(hospital_admin.pk, "otp", loa=LOA2)

    def change(n):
        return lambda: account.contact_email_change(actor=hospital_admin,
                                                    email=f"astrid{n}@region.example",
                                                    step_up=proof)

    outcomes = at_once([_outcome(change(n)) for n in range(PARALLEL)])
    assert sorted(outcomes) == ["ok"] + ["second_factor.required"] * (PARALLEL - 1)
    assert AuditEvent.objects.filter(action="contact.email_changed").count() == 1

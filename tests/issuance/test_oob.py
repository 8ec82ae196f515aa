"""Out-of-band login with the mobile e-ID: the services, with real keys, certificates and CA."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from apps.audit.models import AuditEvent
from apps.commissions.models import Employee
from apps.core.actors import ANONYMOUS, MOBILE_APP, SYSTEM
from apps.core.errors import Conflict, Forbidden, NotFound
from apps.identities.models import User
from apps.issuance import services
from apps.issuance.challenge import challenge, denial_challenge
from apps.issuance.models import MobileEID, OutOfBandRequest
from apps.organisations.models import Organisation
from tests.conftest import make_staff
from tests.issuance.oob_support import activate, approve, deny

pytestmark = pytest.mark.django_db
Status = OutOfBandRequest.Status


@pytest.fixture
def nina(nurse: tuple[User, Employee], issuing_ca: Any) -> User:
    return nurse[0]


def _start(ip: str = "192.0.2.1") -> services.StartedLogin:
    return services.mobile_eid_login_start(actor=ANONYMOUS, ip=ip)


def _complete(started: services.StartedLogin) -> services.Completion:
    return services.mobile_eid_login_complete(
        actor=ANONYMOUS, reference=started.request.reference, binding=started.binding)


def _wrong(number: str) -> str:
    return f"{(int(number) + 1) % 100:02d}"


def test_round_trip_logs_in_the_owner_once(nina: User) -> None:
    wallet = activate(nina.person)
    started = _start()
    assert _complete(started).status == Status.PENDING
    approve(wallet, started.request)
    done = _complete(started)
    assert done.status == Status.CONSUMED and done.user == nina and done.eid_serial == wallet.serial
    assert MobileEID.objects.get(serial=wallet.serial).last_used_at is not None
    # Single use: a second check finds it consumed and logs nobody in.
    again = _complete(started)
    assert again.status == "consumed" and again.user is None
    actions = list(AuditEvent.objects.filter(action__startswith="mobile_eid_login.")
                   .order_by("occurred_at", "id").values_list("action", flat=True))
    assert actions == ["mobile_eid_login.started", "mobile_eid_login.approved",
                       "mobile_eid_login.completed"]


def test_another_browser_cannot_complete(nina: User) -> None:
    wallet = activate(nina.person)
    started = _start()
    approve(wallet, started.request)
    other = services.mobile_eid_login_complete(
        actor=ANONYMOUS, reference=started.request.reference, binding="not-the-binding")
    assert other.status == "unknown" and other.user is None
    assert _complete(started).user == nina


def test_three_wrong_numbers_cancel(nina: User) -> None:
    wallet = activate(nina.person)
    started = _start()
    req = started.request
    for _ in range(2):
        with pytest.raises(Forbidden) as exc:
            approve(wallet, req, number=_wrong(req.number))
        assert exc.value.code == "auth.number"
    req.refresh_from_db()
    assert req.status == Status.PENDING and req.wrong_numbers == 2
    with pytest.raises(Forbidden):
        approve(wallet, req, number=_wrong(req.number))
    req.refresh_from_db()
    assert req.status == Status.CANCELLED
    with pytest.raises(NotFound):
        approve(wallet, req)  # the right number now finds nothing
    assert _complete(started).status == Status.CANCELLED
    assert AuditEvent.objects.filter(action="mobile_eid_login.refused",
                                     outcome=AuditEvent.Outcome.FAILURE).count() == 3


def test_signature_by_another_persons_key_is_refused(nina: User, tree: dict[str, Organisation]
                                                     ) -> None:
    wallet = activate(nina.person)
    other_user, other_employee = make_staff(tree["cardio"], "Olle", "Other", care=True)
    other = activate(other_user.person)
    started = _start()
    req = started.request
    # Nina's serial, signed with Olle's key.
    with pytest.raises(Forbidden) as exc:
        services.mobile_eid_login_approve(actor=MOBILE_APP, reference=req.reference,
                                          serial=wallet.serial, number=req.number,
                                          signature=other.sign(req))
    assert exc.value.code == "auth.signature"
    with pytest.raises(Forbidden) as exc:
        services.mobile_eid_login_approve(actor=MOBILE_APP, reference=req.reference,
                                          serial=wallet.serial, number=req.number,
                                          signature=b"\x30\x00garbage")
    assert exc.value.code == "auth.signature"
    assert _complete(started).status == Status.PENDING


def test_revoked_or_unknown_eid_is_refused(nina: User) -> None:
    wallet = activate(nina.person)
    services.eid_revoke(actor=SYSTEM, eid=MobileEID.objects.get(serial=wallet.serial),
                        reason="Phone lost")
    started = _start()
    with pytest.raises(Forbidden) as exc:
        approve(wallet, started.request)
    assert exc.value.code == "auth.eid"
    wallet.serial = "abc123"
    with pytest.raises(Forbidden) as exc:
        approve(wallet, started.request)
    assert exc.value.code == "auth.eid"


def test_eid_from_another_ca_is_refused(nina: User, settings: Any, tmp_path: Any) -> None:
    from tests.issuance.support import use_temporary_ca

    wallet = activate(nina.person)
    use_temporary_ca(settings, tmp_path / "other-ca")  # the portal's CA is now another one
    with pytest.raises(Forbidden) as exc:
        approve(wallet, _start().request)
    assert exc.value.code == "auth.eid"


def _forged(genuine: x509.Certificate) -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A copy of `genuine` (same serial, subject, issuer name and validity) for a new key, signed
    by a CA the attacker made: everything a name check would compare matches."""
    key = ec.generate_private_key(ec.SECP256R1())
    rogue_ca_key = ec.generate_private_key(ec.SECP256R1())
    forged = (x509.CertificateBuilder().subject_name(genuine.subject)
              .issuer_name(genuine.issuer).public_key(key.public_key())
              .serial_number(genuine.serial_number)
              .not_valid_before(genuine.not_valid_before_utc)
              .not_valid_after(genuine.not_valid_after_utc)
              .sign(rogue_ca_key, hashes.SHA256()))
    return key, forged.public_bytes(serialization.Encoding.PEM).decode("ascii")


def test_a_certificate_from_another_ca_with_the_same_names_is_refused(nina: User) -> None:
    """Should a stored certificate ever be replaced by one another CA signed (same serial and
    names, the attacker's key), the CA's signature check refuses it (RFC 5280 6.1.3)."""
    wallet = activate(nina.person)
    eid = MobileEID.objects.get(serial=wallet.serial)
    key, pem = _forged(x509.load_pem_x509_certificate(eid.certificate_pem.encode()))
    MobileEID.objects.filter(pk=eid.pk).update(certificate_pem=pem)
    started = _start()
    req = started.request
    with pytest.raises(Forbidden) as exc:
        services.mobile_eid_login_approve(
            actor=MOBILE_APP, reference=req.reference, serial=wallet.serial, number=req.number,
            signature=key.sign(challenge(req), ec.ECDSA(hashes.SHA256())))
    assert exc.value.code == "auth.eid"
    with pytest.raises(Forbidden) as exc:
        services.mobile_eid_login_deny(
            actor=MOBILE_APP, reference=req.reference, serial=wallet.serial,
            signature=key.sign(denial_challenge(req), ec.ECDSA(hashes.SHA256())))
    assert exc.value.code == "auth.eid"
    assert _complete(started).status == Status.PENDING


def test_an_expired_e_id_is_refused(nina: User) -> None:
    wallet = activate(nina.person)
    eid = MobileEID.objects.get(serial=wallet.serial)
    MobileEID.objects.filter(pk=eid.pk).update(
        not_after=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    started = _start()
    with pytest.raises(Forbidden) as exc:
        approve(wallet, started.request)
    assert exc.value.code == "auth.eid"
    with pytest.raises(Forbidden) as exc:
        deny(wallet, started.request)
    assert exc.value.code == "auth.eid"


@pytest.mark.parametrize("serial", ["", "xyz", "-1f", "0x1f", "1f " * 20, "f" * 41,
                                    "\x00", "\uff11\uff46", "١٢٣"])
def test_a_serial_that_is_not_hex_names_no_e_id(nina: User, serial: str) -> None:
    wallet = activate(nina.person)
    req = _start().request
    with pytest.raises(Forbidden) as exc:
        services.mobile_eid_login_approve(actor=MOBILE_APP, reference=req.reference,
                                          serial=serial, number=req.number,
                                          signature=wallet.sign(req))
    assert exc.value.code == "auth.eid"


def test_a_serial_with_leading_zeros_or_capitals_is_the_same_e_id(nina: User) -> None:
    wallet = activate(nina.person)
    req = _start().request
    wallet.serial = wallet.serial.upper().rjust(40, "0")  # at most 40 digits (20 octets)
    assert approve(wallet, req).status == Status.APPROVED


def test_revoked_between_approval_and_completion_does_not_log_in(nina: User) -> None:
    wallet = activate(nina.person)
    started = _start()
    approve(wallet, started.request)
    services.eid_revoke(actor=SYSTEM, eid=MobileEID.objects.get(serial=wallet.serial),
                        reason="Phone lost")
    done = _complete(started)
    assert done.status == Status.CANCELLED and done.user is None


def _approved_then(nina: User, change: str) -> tuple[services.StartedLogin, str]:
    """A request of Nina's approved with her e-ID, then her entitlement changed by `change`."""
    from apps.commissions import services as commissions
    from apps.commissions.models import Commission

    wallet = activate(nina.person)
    started = _start()
    approve(wallet, started.request)
    if change == "last commission ended":
        for commission in Commission.objects.filter(employee__person=nina.person):
            commissions.commission_end(actor=SYSTEM, commission=commission, reason="Left")
    elif change == "account deactivated":
        commissions.account_deactivate(actor=SYSTEM, user=nina, reason="Left")
    else:
        services.eid_revoke(actor=SYSTEM, eid=MobileEID.objects.get(serial=wallet.serial),
                            reason="Phone lost")
    return started, wallet.serial


@pytest.mark.parametrize("change", ["last commission ended", "account deactivated",
                                    "e-ID revoked"])
def test_entitlement_is_checked_again_at_completion(nina: User, change: str) -> None:
    """Between the app's approval and the browser's completion the person may leave: the browser
    is then not logged in, and the cancellation is audited."""
    started, serial = _approved_then(nina, change)
    done = _complete(started)
    assert done.status == Status.CANCELLED and done.user is None
    assert MobileEID.objects.get(serial=serial).last_used_at is None
    refused = AuditEvent.objects.filter(action="mobile_eid_login.refused",
                                        target_id=str(started.request.pk)).get()
    assert refused.outcome == AuditEvent.Outcome.FAILURE
    assert refused.reason == "mobile_eid_login.auth.not_entitled"
    assert not AuditEvent.objects.filter(action="mobile_eid_login.completed").exists()


def test_expired_request(nina: User) -> None:
    wallet = activate(nina.person)
    started = _start()
    req = started.request
    shift = dt.timedelta(seconds=121)
    OutOfBandRequest.objects.filter(pk=req.pk).update(created_at=req.created_at - shift,
                                                      expires_at=req.expires_at - shift)
    with pytest.raises(NotFound):
        approve(wallet, req)
    assert _complete(started).status == Status.EXPIRED


def test_expired_after_approval_does_not_log_in(nina: User) -> None:
    wallet = activate(nina.person)
    started = _start()
    approve(wallet, started.request)
    OutOfBandRequest.objects.filter(pk=started.request.pk).update(
        expires_at=started.request.created_at + dt.timedelta(microseconds=1))
    assert _complete(started).status == Status.EXPIRED


def test_replayed_approval_and_denial(nina: User) -> None:
    wallet = activate(nina.person)
    started = _start()
    approve(wallet, started.request)
    with pytest.raises(Conflict):
        approve(wallet, started.request)
    with pytest.raises(Conflict):
        deny(wallet, started.request)
    _complete(started)
    with pytest.raises(NotFound):
        approve(wallet, started.request)


def test_denied(nina: User) -> None:
    wallet = activate(nina.person)
    started = _start()
    deny(wallet, started.request)
    assert _complete(started).status == Status.DENIED
    with pytest.raises(Conflict):
        approve(wallet, started.request)
    denied = AuditEvent.objects.get(action="mobile_eid_login.denied")
    assert denied.subject_person_id == nina.person_id
    assert denied.changes["serial"] == [None, wallet.serial]


def _deny_with(req: OutOfBandRequest, serial: str, signature: bytes) -> str:
    """The refusal code of a denial with this serial and signature."""
    with pytest.raises(Forbidden) as exc:
        services.mobile_eid_login_deny(actor=MOBILE_APP, reference=req.reference, serial=serial,
                                       signature=signature)
    return str(exc.value.code)


def test_a_denial_is_signed_by_an_e_id(nina: User) -> None:
    """Knowing the reference (the QR text) is not enough to deny a login: the app signs the
    denial challenge with the e-ID's key, and a signature over the approval challenge, another
    request's denial or garbage is refused. Refusals leave the request waiting."""
    wallet = activate(nina.person)
    started = _start()
    req = started.request
    assert _deny_with(req, "abc123", wallet.sign_denial(req)) == "auth.eid"
    assert _deny_with(req, wallet.serial, b"\x30\x00garbage") == "auth.signature"
    assert _deny_with(req, wallet.serial, wallet.sign(req)) == "auth.signature"
    other = _start().request
    assert _deny_with(req, wallet.serial, wallet.sign_denial(other)) == "auth.signature"
    assert _complete(started).status == Status.PENDING
    assert AuditEvent.objects.filter(action="mobile_eid_login.refused").count() == 4
    deny(wallet, req)
    assert _complete(started).status == Status.DENIED


def test_wrong_numbers_count_only_when_signed(nina: User) -> None:
    """A wrong number counts towards the cancellation only with a valid signature over what was
    typed: anyone who merely knows the reference cannot cancel the login."""
    wallet = activate(nina.person)
    started = _start()
    req = started.request
    wrong = _wrong(req.number)
    for _ in range(5):
        with pytest.raises(Forbidden) as exc:
            services.mobile_eid_login_approve(actor=MOBILE_APP, reference=req.reference,
                                              serial=wallet.serial, number=wrong,
                                              signature=b"\x30\x00garbage")
        assert exc.value.code == "auth.signature"
        with pytest.raises(Forbidden) as exc:
            services.mobile_eid_login_approve(actor=MOBILE_APP, reference=req.reference,
                                              serial="abc123", number=wrong,
                                              signature=wallet.sign(req, wrong))
        assert exc.value.code == "auth.eid"
    # The right number signed as if it were the typed wrong one: refused, not counted.
    with pytest.raises(Forbidden) as exc:
        services.mobile_eid_login_approve(actor=MOBILE_APP, reference=req.reference,
                                          serial=wallet.serial, number=wrong,
                                          signature=wallet.sign(req))
    assert exc.value.code == "auth.signature"
    req.refresh_from_db()
    assert req.status == Status.PENDING and req.wrong_numbers == 0
    assert approve(wallet, req).status == Status.APPROVED


def test_at_most_five_pending_per_address_and_one_per_browser() -> None:
    first = _start()
    for _ in range(4):
        _start()
    with pytest.raises(Forbidden) as exc:
        _start()
    assert exc.value.code == "auth.too_many"
    _start(ip="192.0.2.9")
    # The same browser starting again replaces its own request.
    again = services.mobile_eid_login_start(
        actor=ANONYMOUS, ip="192.0.2.1", previous=(first.request.reference, first.binding))
    first.request.refresh_from_db()
    assert first.request.status == Status.CANCELLED and again.request.status == Status.PENDING
    # The cancellation is in the audit log, on the new request's start.
    started = AuditEvent.objects.get(action="mobile_eid_login.started",
                                     target_id=str(again.request.pk))
    assert started.changes["cancelled"] == [None, str(first.request.pk)]


def test_only_the_app_answers(nina: User) -> None:
    wallet = activate(nina.person)
    started = _start()
    with pytest.raises(Forbidden):
        services.mobile_eid_login_deny(actor=ANONYMOUS, reference=started.request.reference,
                                       serial=wallet.serial,
                                       signature=wallet.sign_denial(started.request))
    with pytest.raises(Forbidden):
        services.mobile_eid_login_start(actor=nina, ip=None)


def test_at_most_five_approvals_per_person_in_ten_minutes(nina: User) -> None:
    wallet = activate(nina.person)
    for n in range(5):
        approve(wallet, _start(ip=f"192.0.2.{10 + n}").request)
    sixth = _start(ip="192.0.2.20")
    with pytest.raises(Forbidden) as exc:
        approve(wallet, sixth.request)
    assert exc.value.code == "auth.too_many"
    sixth.request.refresh_from_db()
    assert sixth.request.status == Status.PENDING and sixth.request.eid is None
    refused = AuditEvent.objects.filter(action="mobile_eid_login.refused").get()
    assert refused.reason == "mobile_eid_login.auth.too_many"
    # Ten minutes after the first approvals the person may approve again.
    OutOfBandRequest.objects.filter(approved_at__isnull=False).update(
        approved_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=601))
    assert approve(wallet, sixth.request).status == Status.APPROVED


def test_ended_requests_are_pruned_a_day_later_and_the_audit_log_keeps_them(
        nina: User, settings: Any) -> None:
    """Requests are protocol state: the scheduler deletes them `OOB_KEEP_SECONDS` (a day) after
    they expired, whatever their status; the audit events that name them (by id and label, not a
    foreign key) and the person's log extract stay whole."""
    from apps.audit.selectors import audit_list_for_person
    from apps.issuance import rules, tasks

    schedule = settings.CELERY_BEAT_SCHEDULE["issuance-oob-requests-prune"]
    assert schedule["task"] == tasks.oob_requests_prune_task.name
    wallet = activate(nina.person)
    used = _start()
    approve(wallet, used.request)
    _complete(used)
    denied = _start()
    deny(wallet, denied.request)
    waiting = _start()
    extract_before = list(audit_list_for_person(nina.person_id).values_list("id", flat=True))
    events_before = AuditEvent.objects.count()
    keep = dt.timedelta(seconds=rules.OOB_KEEP_SECONDS)

    def expired_ago(age: dt.timedelta) -> None:
        ends = dt.datetime.now(dt.UTC) - age
        OutOfBandRequest.objects.filter(pk__in=[used.request.pk, denied.request.pk]).update(
            created_at=ends - dt.timedelta(seconds=120), expires_at=ends)

    expired_ago(keep - dt.timedelta(seconds=60))  # just inside the day: kept
    assert tasks.oob_requests_prune_task() == 0
    expired_ago(keep + dt.timedelta(seconds=1))
    assert tasks.oob_requests_prune_task() == 2
    assert list(OutOfBandRequest.objects.values_list("pk", flat=True)) == [waiting.request.pk]
    assert AuditEvent.objects.count() == events_before
    assert list(audit_list_for_person(nina.person_id).values_list("id", flat=True)) == (
        extract_before)
    completed = AuditEvent.objects.get(action="mobile_eid_login.completed")
    assert completed.target_id == str(used.request.pk) and completed.target_label
    # The e-ID the pruned requests named is untouched.
    assert MobileEID.objects.get(serial=wallet.serial).status == MobileEID.Status.ACTIVE

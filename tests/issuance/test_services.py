"""The activation code rules and e-ID services."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from django.core import mail
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions.models import Employee
from apps.core.actors import MOBILE_APP, SYSTEM
from apps.core.assurance import mint_step_up
from apps.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from apps.core.loa import LOA3
from apps.identities.models import User
from apps.issuance import codes, errors, services
from apps.issuance.ca import IssuingCA
from apps.issuance.models import ActivationCode, MobileEID
from apps.organisations.models import Organisation
from tests.conftest import make_staff
from tests.issuance.support import device_csr, issue, redeem_qr

pytestmark = pytest.mark.django_db


@pytest.fixture
def nina(nurse: tuple[User, Employee]) -> User:
    return nurse[0]


def _expire(code: ActivationCode, minutes: int = 11) -> None:
    """Move the code's creation and expiry `minutes` into the past (as if time had passed)."""
    shift = dt.timedelta(minutes=minutes)
    ActivationCode.objects.filter(pk=code.pk).update(
        created_at=code.created_at - shift, expires_at=code.expires_at - shift
    )


def _redeem_typed(person_number: str, short: str) -> services.Activation:
    return services.activation_code_redeem(actor=MOBILE_APP, csr_pem=device_csr()[1],
                                           device_name="Phone",
                                           person_number=person_number, short_code=short)


def _proof(user: User):
    return mint_step_up(user.pk, "saml", loa=LOA3)


# --- issuing ---------------------------------------------------------------------------------------


def test_self_service_needs_step_up(nina: User) -> None:
    with pytest.raises(Forbidden) as exc:
        services.activation_code_issue(actor=nina, person=nina.person)
    assert exc.value.code == "step_up_required"
    issued = services.activation_code_issue(actor=nina, person=nina.person, step_up=_proof(nina))
    assert issued.code.person == nina.person


def test_code_secrets_have_the_required_strength(nina: User) -> None:
    issued = issue(nina.person)
    parsed = codes.parse_qr_payload(issued.qr_payload)
    assert parsed is not None and parsed[0] == issued.code.pk
    assert len(parsed[1]) >= 22  # 16 random bytes, base64url: 128 bits >= 112
    assert len(issued.short_code) == 9 and issued.short_code[4] == "-"  # 8 x 5 bits = 40 bits
    assert all(ch in codes.CROCKFORD for ch in issued.short_code.replace("-", ""))
    valid_for = issued.code.expires_at - issued.code.created_at
    assert dt.timedelta(minutes=9, seconds=59) < valid_for <= dt.timedelta(minutes=10)


def test_plaintext_never_stored_nor_audited(nina: User, issuing_ca: IssuingCA) -> None:
    issued = issue(nina.person)
    secret = issued.qr_payload.rsplit(".", 1)[1]
    short = issued.short_code.replace("-", "")
    redeem_qr(issued)
    with connection.cursor() as cursor:
        for table in ("issuance_activationcode", "audit_auditevent"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            dump = repr(cursor.fetchall())
            for plaintext in (secret, short, issued.short_code):
                assert plaintext not in dump, f"{plaintext} found in {table}"
    code = ActivationCode.objects.get(pk=issued.code.pk)
    assert code.secret_hash == codes.hash_qr_secret(secret)  # an HMAC, not the secret


def test_a_colleague_cannot_issue_self_service_codes_for_someone_else(
    nina: User, tree: dict[str, Organisation]
) -> None:
    other, _ = make_staff(tree["cardio"], "Olle", "Other")
    with pytest.raises(NotFound):
        services.activation_code_issue(actor=other, person=nina.person, step_up=_proof(other))


def test_issuer_needs_a_valid_identity_document(issuer: User, nina: User) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.activation_code_issue(actor=issuer, person=nina.person, step_up=_proof(issuer))
    assert exc.value.code == "document.required"
    expired = services.IdentityDocument(type="passport", last_four="1234",
                                        expires_on=timezone.localdate() - dt.timedelta(days=1))
    with pytest.raises(ValidationFailed) as exc:
        services.activation_code_issue(actor=issuer, person=nina.person, identity_document=expired,
                                       step_up=_proof(issuer))
    assert exc.value.code == "document.expired" and exc.value.field == "document_expires_on"
    bad_digits = services.IdentityDocument(type="passport", last_four="12a4",
                                           expires_on=timezone.localdate())
    with pytest.raises(ValidationFailed):
        services.activation_code_issue(actor=issuer, person=nina.person,
                                       identity_document=bad_digits, step_up=_proof(issuer))
    good = services.IdentityDocument(type="driving_licence", last_four="4321",
                                     expires_on=timezone.localdate() + dt.timedelta(days=300))
    with pytest.raises(Forbidden):  # an issuer re-enters the second factor too
        services.activation_code_issue(actor=issuer, person=nina.person, identity_document=good)
    issued = services.activation_code_issue(actor=issuer, person=nina.person,
                                            identity_document=good, step_up=_proof(issuer))
    code = issued.code
    assert code.issued_for_other and code.document_type == "driving_licence"
    assert code.document_last_four == "4321" and code.created_by_id == issuer.pk


def test_issuer_out_of_scope_gets_not_found(tree: dict[str, Organisation]) -> None:
    from apps.commissions import services as commissions
    from apps.commissions.models import Role

    local_issuer, _ = make_staff(tree["other"], "Lisa", "Local")
    commissions.role_grant(actor=SYSTEM, person=local_issuer.person, role=Role.ISSUER,
                           organisation=tree["other"], valid_from=timezone.now(),
                           valid_until=None)
    target, _ = make_staff(tree["cardio"], "Carl", "Cardio")
    doc = services.IdentityDocument(type="passport", last_four="1111",
                                    expires_on=timezone.localdate() + dt.timedelta(days=30))
    with pytest.raises(NotFound):
        services.activation_code_issue(actor=local_issuer, person=target.person,
                                       identity_document=doc, step_up=_proof(local_issuer))


def test_issuing_ends_earlier_unused_codes(nina: User, assert_audited: Any,
                                          issuing_ca: IssuingCA) -> None:
    first = issue(nina.person)
    second = issue(nina.person)
    first.code.refresh_from_db()
    assert first.code.ended_at is not None
    event = assert_audited("activation_code.ended", target=first.code, subject=nina.person)
    assert event.reason == "activation_code.replaced"  # a code, shown in the reader's language
    with pytest.raises(errors.CodeGone) as exc:
        redeem_qr(first)
    assert exc.value.code == "code_ended"
    assert redeem_qr(second).eid.person == nina.person


def test_typed_superseded_code_says_ended_and_is_no_failed_try(
    nina: User, issuing_ca: IssuingCA, assert_audited: Any
) -> None:
    """The QR form of a replaced code answers code_ended; the typed form must say the same."""
    number = nina.person.person_number
    old = issue(nina.person)
    new = issue(nina.person)
    with pytest.raises(errors.CodeGone) as exc:
        _redeem_typed(number, old.short_code)
    assert exc.value.code == "code_ended"
    new.code.refresh_from_db()
    old.code.refresh_from_db()
    assert new.code.failed_attempts == 0 and old.code.failed_attempts == 0
    event = assert_audited("activation_code.redeem_failed", target=old.code, subject=nina.person,
                           outcome="failure")
    assert event.changes["error"] == [None, "code_ended"]
    assert _redeem_typed(number, new.short_code).eid.person == nina.person


def test_typed_code_ended_long_ago_is_a_failed_try(nina: User, issuing_ca: IssuingCA) -> None:
    """Only the most recent replaced code, and only within its 10 minutes, answers code_ended."""
    number = nina.person.person_number
    oldest = issue(nina.person)
    middle = issue(nina.person)
    newest = issue(nina.person)
    with pytest.raises(errors.CodeInvalid):
        _redeem_typed(number, oldest.short_code)  # not the most recent replaced code
    _expire(middle.code)
    with pytest.raises(errors.CodeInvalid):
        _redeem_typed(number, middle.short_code)  # replaced and past its 10 minutes
    newest.code.refresh_from_db()
    assert newest.code.failed_attempts == 2


def test_at_most_three_active_eids(nina: User, issuing_ca: IssuingCA) -> None:
    for _ in range(3):
        redeem_qr(issue(nina.person))
    with pytest.raises(ValidationFailed) as exc:
        issue(nina.person)
    assert exc.value.code == "too_many_eids" and "3" in str(exc.value.message)
    # Revoking one makes room again.
    services.eid_revoke(actor=nina, eid=MobileEID.objects.filter(person=nina.person)[0],
                        reason="Phone lost")
    redeem_qr(issue(nina.person))


# --- redeeming -------------------------------------------------------------------------------------


def test_redeem_with_qr_issues_a_certificate_for_the_person(
    nina: User, issuing_ca: IssuingCA, assert_audited: Any
) -> None:
    issued = issue(nina.person)
    key, csr = device_csr("Nina's phone")
    activation = services.activation_code_redeem(actor=MOBILE_APP, csr_pem=csr, device_name="Nina's phone",
                                                 qr_payload=issued.qr_payload)
    cert = x509.load_pem_x509_certificate(activation.certificate.encode())
    cert.verify_directly_issued_by(issuing_ca.cert)
    assert cert.public_key() == key.public_key()
    number = nina.person.identity_numbers.get().extension
    assert cert.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)[0].value == number
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "Nina Nurse"
    eid = activation.eid
    assert eid.serial == format(cert.serial_number, "x") and eid.status == "active"
    assert eid.device_name == "Nina's phone"
    assert activation.chain.endswith(issuing_ca.ca_pem())
    issued.code.refresh_from_db()
    assert issued.code.used_at is not None
    assert_audited("eid.activated", target=eid, subject=nina.person)


def test_code_is_single_use(nina: User, issuing_ca: IssuingCA) -> None:
    issued = issue(nina.person)
    redeem_qr(issued)
    with pytest.raises(errors.CodeUsed) as exc:
        redeem_qr(issued)
    assert exc.value.status == 409 and exc.value.code == "code_used"


def test_code_expires_after_ten_minutes(nina: User, issuing_ca: IssuingCA,
                                        assert_audited: Any) -> None:
    issued = issue(nina.person)
    _expire(issued.code)
    with pytest.raises(errors.CodeGone) as exc:
        redeem_qr(issued)
    assert exc.value.code == "code_expired"
    assert_audited("activation_code.redeem_failed", target=issued.code, outcome="failure")


def test_typed_form_only_with_the_right_person_number(
    nina: User, tree: dict[str, Organisation], issuing_ca: IssuingCA
) -> None:
    other, _ = make_staff(tree["cardio"], "Olle", "Other", care=True)
    issue(other.person)
    issued = issue(nina.person)
    with pytest.raises(errors.CodeInvalid):
        _redeem_typed(other.person.person_number, issued.short_code)
    with pytest.raises(errors.CodeInvalid):
        _redeem_typed("19121212-1212", issued.short_code)  # nobody
    # Lower case, no hyphen, and the 12-digit form without separator are all fine.
    number = nina.person.identity_numbers.get().extension
    activation = _redeem_typed(number, issued.short_code.replace("-", "").lower())
    assert activation.eid.person == nina.person


def test_five_failures_kill_the_code(nina: User, issuing_ca: IssuingCA,
                                     assert_audited: Any) -> None:
    issued = issue(nina.person)
    number = nina.person.person_number
    wrong = "0000-0000" if issued.short_code != "0000-0000" else "1111-1111"
    for _ in range(5):
        with pytest.raises(errors.CodeInvalid):
            _redeem_typed(number, wrong)
    issued.code.refresh_from_db()
    assert issued.code.failed_attempts == 5
    # Even the right code is refused now. The typed form answers like a wrong code (a person
    # number must not tell whether its owner has a code); the audit row says what happened.
    with pytest.raises(errors.CodeInvalid):
        _redeem_typed(number, issued.short_code)
    event = assert_audited("activation_code.redeem_failed", target=issued.code, outcome="failure")
    assert event.changes["error"] == [None, "code_dead"]
    assert event.actor_kind == "device"
    with pytest.raises(errors.CodeDead):
        redeem_qr(issued)
    assert not MobileEID.objects.exists()
    issued.code.refresh_from_db()
    assert issued.code.failed_attempts == 5


def test_a_new_code_does_not_reset_the_failure_count(nina: User, issuing_ca: IssuingCA) -> None:
    number = nina.person.person_number
    first = issue(nina.person)
    wrong = "0000-0000" if first.short_code != "0000-0000" else "1111-1111"
    for _ in range(3):
        with pytest.raises(errors.CodeInvalid):
            _redeem_typed(number, wrong)
    second = issue(nina.person)
    assert second.code.carried_failures == 3
    for _ in range(2):
        with pytest.raises(errors.CodeInvalid):
            _redeem_typed(number, wrong)
    with pytest.raises(errors.CodeDead):
        redeem_qr(second)
    # Five failures within 24 hours: no new code until they age out.
    with pytest.raises(ValidationFailed) as exc:
        issue(nina.person)
    assert exc.value.code == "activation_code.locked"
    day_ago = timezone.now() - dt.timedelta(hours=24, minutes=1)
    ActivationCode.objects.filter(person=nina.person).update(last_failed_at=day_ago)
    third = issue(nina.person)
    assert third.code.carried_failures == 0
    assert redeem_qr(third).eid.status == "active"


def test_wrong_qr_secret_counts_as_a_failure(nina: User, issuing_ca: IssuingCA) -> None:
    issued = issue(nina.person)
    forged = issued.qr_payload.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAA"
    with pytest.raises(errors.CodeInvalid):
        services.activation_code_redeem(actor=MOBILE_APP, csr_pem=device_csr()[1], device_name="x",
                                        qr_payload=forged)
    issued.code.refresh_from_db()
    assert issued.code.failed_attempts == 1


def test_unknown_code_is_audited_as_failure(db: Any) -> None:
    with pytest.raises(errors.CodeInvalid):
        services.activation_code_redeem(actor=MOBILE_APP, csr_pem=device_csr()[1], device_name="x",
                                        qr_payload="not a code")
    assert AuditEvent.objects.filter(action="activation_code.redeem_failed",
                                     outcome="failure").count() == 1


def test_bad_csr_is_refused_without_using_the_code(nina: User, issuing_ca: IssuingCA) -> None:
    issued = issue(nina.person)
    with pytest.raises(ValidationFailed) as exc:
        services.activation_code_redeem(actor=MOBILE_APP, csr_pem="-----BEGIN CERTIFICATE REQUEST-----\nxx\n",
                                        device_name="x", qr_payload=issued.qr_payload)
    assert exc.value.code == "csr_invalid"
    issued.code.refresh_from_db()
    assert issued.code.used_at is None and issued.code.failed_attempts == 0
    assert redeem_qr(issued).eid


def _rsa_csr() -> str:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "phone")])).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


@pytest.mark.parametrize(
    ("csr", "swedish", "english"),
    [
        ("-----BEGIN CERTIFICATE REQUEST-----\nxx\n", "inte en giltig", "not a valid PEM"),
        (None, "EC P-256", "must be an EC P-256"),
    ],
    ids=["format", "key_type"],
)
def test_a_refused_csr_is_explained_in_one_language(nina: User, issuing_ca: IssuingCA,
                                                    csr: str | None, swedish: str,
                                                    english: str) -> None:
    """Found: a Swedish sentence ended in the CA's English text ("... är inte godtagbar:
    the CSR key must be an EC P-256 (secp256r1) key"). The CA's codes map to translated messages;
    the audit row keeps a reason code, whatever the language of the request."""
    from django.utils import translation

    issued = issue(nina.person)
    with translation.override("sv"), pytest.raises(ValidationFailed) as exc:
        services.activation_code_redeem(actor=MOBILE_APP, csr_pem=csr or _rsa_csr(),
                                        qr_payload=issued.qr_payload)
    with translation.override("sv"):
        text = str(exc.value.message)
    assert swedish in text and "the CSR" not in text and "must" not in text
    with translation.override("en"):
        assert english in str(exc.value.message)
    event = AuditEvent.objects.get(action="activation_code.redeem_failed")
    assert event.reason == "redeem.csr_invalid"


def test_every_refusal_has_a_registered_reason() -> None:
    """Each error a redemption can answer is stored as a reason code with a translated label."""
    from apps.audit.registry import reason_text

    codes_ = {cls.default_code for cls in vars(errors).values()
              if isinstance(cls, type) and issubclass(cls, errors.PortalError)
              and cls.__module__ == errors.__name__}
    assert codes_ <= {"code_invalid", "code_expired", "code_used", "code_dead", "too_many_eids",
                      "ca_unavailable", "not_entitled"}
    for code in [*codes_, "code_ended", "csr_invalid", "invalid"]:
        assert reason_text(f"redeem.{code}") != f"redeem.{code}", code


# --- revoking and telling the person -----------------------------------------------------------


def test_owner_revokes_and_is_told_by_email_after_commit(
    nina: User, issuing_ca: IssuingCA, assert_audited: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as pending:
        eid = redeem_qr(issue(nina.person)).eid
    assert mail.outbox == []  # nothing is sent before the transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        for callback in pending:
            callback()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [nina.person.email]
    assert eid.serial in mail.outbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        services.eid_revoke(actor=nina, eid=eid, reason="Phone lost")
    eid.refresh_from_db()
    assert eid.status == "revoked" and eid.revoked_by_id == nina.pk
    assert eid.revocation_reason == "Phone lost"
    assert_audited("eid.revoked", target=eid, subject=nina.person)
    assert_audited("eid.notified", target=eid, subject=nina.person)
    assert len(mail.outbox) == 2 and "Phone lost" in mail.outbox[1].body
    with pytest.raises(Conflict):
        services.eid_revoke(actor=nina, eid=eid, reason="again")


def test_revoke_needs_reason_and_scope(nina: User, issuer: User, tree: dict[str, Organisation],
                                       issuing_ca: IssuingCA) -> None:
    eid = redeem_qr(issue(nina.person)).eid
    with pytest.raises(ValidationFailed):
        services.eid_revoke(actor=nina, eid=eid, reason="  ")
    colleague, _ = make_staff(tree["cardio"], "Olle", "Other")
    with pytest.raises(NotFound):
        services.eid_revoke(actor=colleague, eid=eid, reason="mine now")
    services.eid_revoke(actor=issuer, eid=eid, reason="Reported stolen")
    eid.refresh_from_db()
    assert eid.status == "revoked" and eid.revoked_by_label == str(issuer)


def test_failure_count_is_visible_on_expired_codes_too(nina: User, issuing_ca: IssuingCA) -> None:
    """An expired code still counts wrong tries (they are guesses), a right one does not."""
    issued = issue(nina.person)
    _expire(issued.code)
    with pytest.raises(errors.CodeGone):
        redeem_qr(issued)
    issued.code.refresh_from_db()
    assert issued.code.failed_attempts == 0


def test_a_mail_server_failure_is_retried_later_by_the_outbox(
    nina: User, issuing_ca: IssuingCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mail-server failure leaves the e-mail due again after a backoff instead of losing it."""
    import smtplib

    from django.core.mail.backends.locmem import EmailBackend

    from apps.outbox.delivery import deliver_pending
    from apps.outbox.models import OutboxEvent

    eid = redeem_qr(issue(nina.person)).eid  # on_commit never fires here: the event waits
    real_send = EmailBackend.send_messages

    def failing_send(self: EmailBackend, messages: Any) -> int:
        raise smtplib.SMTPServerDisconnected("try later")

    monkeypatch.setattr(EmailBackend, "send_messages", failing_send)
    assert deliver_pending().retried == 1
    event = OutboxEvent.objects.get(topic="eid.activated")
    assert event.delivered_at is None and event.attempts == 1
    assert "SMTPServerDisconnected" in event.last_error and event.available_at > timezone.now()
    assert mail.outbox == [] and not AuditEvent.objects.filter(action="eid.notified").exists()
    assert deliver_pending().delivered == 0  # not due before its backoff ends

    monkeypatch.setattr(EmailBackend, "send_messages", real_send)
    OutboxEvent.objects.filter(pk=event.pk).update(available_at=timezone.now())  # time passes
    assert deliver_pending().delivered == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [nina.person.email]
    notified = AuditEvent.objects.get(action="eid.notified", target_id=str(eid.pk))
    assert notified.actor_kind == "system" and notified.actor_label == "system:worker"


def test_redemption_rechecks_the_limit_of_three(nina: User, issuing_ca: IssuingCA) -> None:
    """A code issued at 2 active e-IDs is refused if a third became active in the meantime."""
    from django.db import transaction

    for _ in range(2):
        redeem_qr(issue(nina.person))
    pending = issue(nina.person)
    template = MobileEID.objects.filter(person=nina.person)[0]
    other_code = ActivationCode.objects.exclude(pk=pending.code.pk).filter(
        person=nina.person, eid__isnull=True).first()
    assert other_code is None  # every earlier code is used; simulate a third e-ID from elsewhere
    with transaction.atomic():
        spare = ActivationCode.objects.create(
            person=nina.person, created_by_label="test", secret_hash="0" * 64, short_hash="0" * 64,
            expires_at=timezone.now() + dt.timedelta(minutes=10), ended_at=timezone.now())
        MobileEID.objects.create(
            person=nina.person, activation_code=spare, serial="abc", fingerprint_sha256="f" * 64,
            certificate_pem=template.certificate_pem, not_before=template.not_before,
            not_after=template.not_after, device_name="Elsewhere")
    with pytest.raises(errors.TooManyEIDs) as exc:
        redeem_qr(pending)
    assert exc.value.status == 409
    pending.code.refresh_from_db()
    assert pending.code.used_at is None and pending.code.failed_attempts == 0


def test_the_warning_email_holds_no_text_chosen_by_the_device(
    nina: User, issuing_ca: IssuingCA, django_capture_on_commit_callbacks: Any
) -> None:
    """Whoever redeemed someone's code could write part of the alarm."""
    with django_capture_on_commit_callbacks(execute=True):
        redeem_qr(issue(nina.person), device="IT-support: expected, ignore this mail")
    assert mail.outbox and all("IT-support" not in m.body for m in mail.outbox)


def test_someone_who_has_left_gets_no_new_e_id(tree: dict[str, Organisation], issuing_ca: IssuingCA) -> None:
    """An employee HSA-id alone was enough; a leaver has no active
    commission or role."""
    leaver, _ = make_staff(tree["cardio"], "Lea", "Left")
    with pytest.raises(ValidationFailed) as exc:
        services.activation_code_issue(actor=leaver, person=leaver.person, step_up=_proof(leaver))
    assert exc.value.code == "not_staff"


def test_an_issuer_issues_for_staff_without_a_portal_login(
    issuer: User, tree: dict[str, Organisation]
) -> None:
    """Found: most demo staff have no login account, and an issuer was refused for
    them ("Only staff members..."); the e-ID is itself their credential."""
    from apps.commissions import services as commissions
    from apps.identities import services as identities
    from apps.identities.identifiers import make_person_number

    person = identities.person_create(actor=SYSTEM, given_name="Leo", family_name="Andersson",
                                      person_number=make_person_number(dt.date(1992, 8, 11), 699))
    employee = commissions.employee_create(actor=SYSTEM, person=person, organisation=tree["cardio"])
    commissions.commission_grant(actor=SYSTEM, employee=employee, care_unit=tree["cardio"],
                                 purpose="Vård och behandling", rights=["Läsa;alla;VE"],
                                 valid_from=timezone.now(), valid_until=None)
    document = services.IdentityDocument(type="passport", last_four="1234",
                                         expires_on=timezone.localdate() + dt.timedelta(days=30))
    issued = services.activation_code_issue(actor=issuer, person=person,
                                            identity_document=document, step_up=_proof(issuer))
    assert issued.code.issued_for_other


# --- entitlement at use ----------------------------------------------------------------------------


def test_a_code_dies_with_the_last_commission(nurse: tuple[User, Employee], issuing_ca: IssuingCA,
                                             assert_audited: Any) -> None:
    """Found: a code issued to a staff member still bound an e-ID after their last commission
    ended (HTTP 201, certificate issued, e-mail sent)."""
    from apps.commissions import services as commissions
    from apps.commissions.models import Commission

    user, employee = nurse
    issued = issue(user.person)
    commissions.commission_end(actor=SYSTEM, commission=Commission.objects.get(employee=employee),
                               reason="Left the unit")
    assert_audited("activation_code.ended", target=issued.code)
    with pytest.raises(errors.CodeGone):
        redeem_qr(issued)
    assert not MobileEID.objects.exists()


def test_redemption_rechecks_the_entitlement(nurse: tuple[User, Employee],
                                            issuing_ca: IssuingCA) -> None:
    """A commission that expires by its date sends no signal: redemption checks again, under the
    person's lock, and ends the code."""
    from apps.commissions.models import Commission

    user, employee = nurse
    issued = issue(user.person)
    Commission.objects.filter(employee=employee).update(valid_until=timezone.now())
    with pytest.raises(errors.NotEntitled):
        redeem_qr(issued)
    issued.code.refresh_from_db()
    assert issued.code.ended_at is not None and not MobileEID.objects.exists()
    event = AuditEvent.objects.get(action="activation_code.redeem_failed")
    assert event.changes["error"] == [None, "not_entitled"]


def test_a_deactivated_account_gets_no_e_id(nurse: tuple[User, Employee], issuing_ca: IssuingCA) -> None:
    user, _ = nurse
    issued = issue(user.person)
    User.objects.filter(pk=user.pk).update(is_active=False)  # even without the service's clean-up
    with pytest.raises(errors.NotEntitled):
        redeem_qr(issued)
    assert not MobileEID.objects.exists()


def test_a_forged_or_foreign_step_up_proof_is_refused(nina: User, tree: dict[str, Organisation]) -> None:
    """The step-up is a value only authn mints: a boolean, another user's proof, an old proof or a
    proof with a changed field are all refused."""
    import dataclasses
    import time

    other, _ = make_staff(tree["cardio"], "Olle", "Other", care=True)
    old = mint_step_up(nina.pk, "saml", loa=LOA3, now=time.time() - 301)
    forged = dataclasses.replace(_proof(other), user_id=nina.pk)
    for proof in (None, _proof(other), old, forged):
        with pytest.raises(Forbidden) as exc:
            services.activation_code_issue(actor=nina, person=nina.person, step_up=proof)
        assert exc.value.code == "step_up_required"
    assert services.activation_code_issue(actor=nina, person=nina.person, step_up=_proof(nina))


def test_one_step_up_issues_one_code(nina: User) -> None:
    """Found: one step-up issued 8 codes when the page was sent 8 times at once (the proof was
    read from the session before any request spent it). The proof's nonce is stored with the code."""
    proof = _proof(nina)
    services.activation_code_issue(actor=nina, person=nina.person, step_up=proof)
    with pytest.raises(Forbidden) as exc:
        services.activation_code_issue(actor=nina, person=nina.person, step_up=proof)
    assert exc.value.code == "step_up_required"
    assert ActivationCode.objects.filter(person=nina.person).count() == 1


def test_guesses_at_a_code_that_cannot_bind_do_not_lock_the_person_out(
    nina: User, issuing_ca: IssuingCA
) -> None:
    """Found: five anonymous wrong guesses with a known personnummer, after the person's last code
    was used, blocked every new code for 24 hours."""
    redeem_qr(issue(nina.person))
    for _ in range(6):
        with pytest.raises(errors.CodeInvalid):
            _redeem_typed(nina.person.person_number, "AAAA-AAA0")
    assert services.activation_code_issue(actor=nina, person=nina.person, step_up=_proof(nina))


def test_a_code_cancelled_with_the_entitlement_says_cancelled(
    nurse: tuple[User, Employee], issuing_ca: IssuingCA
) -> None:
    from apps.commissions import services as commissions
    from apps.commissions.models import Commission

    user, employee = nurse
    issued = issue(user.person)
    commissions.commission_end(actor=SYSTEM, commission=Commission.objects.get(employee=employee),
                               reason="Left")
    with pytest.raises(errors.CodeGone) as exc:
        redeem_qr(issued)
    assert "cancelled" in str(exc.value.message) and "replaced" not in str(exc.value.message)


def test_a_request_begun_before_the_account_was_deactivated_writes_nothing(
    tree: dict[str, Organisation], hospital_admin: User
) -> None:
    """Found: a role granted by an administrator whose request was under way when another
    administrator deactivated the account was still saved. Services read the account again."""
    from apps.commissions import services as commissions
    from apps.commissions.models import Role, RoleAssignment

    target, _ = make_staff(tree["ortho"], "Tore", "Target")
    User.objects.filter(pk=hospital_admin.pk).update(is_active=False)  # the stale object says active
    with pytest.raises(Forbidden) as exc:
        commissions.role_grant(actor=hospital_admin, person=target.person, role=Role.ISSUER,
                               organisation=tree["ortho"], valid_from=timezone.now(),
                               valid_until=None)
    assert exc.value.code == "account.inactive"
    assert not RoleAssignment.objects.filter(person=target.person).exists()

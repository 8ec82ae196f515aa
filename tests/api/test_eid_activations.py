"""`POST /api/v1/eid/activations`, `/issuance/ca.pem` and `/issuance/crl`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core import mail
from django.test import Client

from apps.audit.models import AuditEvent
from apps.commissions.models import Employee
from apps.core.actors import actor_display
from apps.identities.models import User
from apps.issuance import services
from apps.issuance.ca import IssuingCA
from apps.issuance.models import ActivationCode, MobileEID
from tests.conftest import patient_login
from tests.issuance.support import device_csr, issue, redeem_qr

URL = "/api/v1/eid/activations"
PROBLEM = "application/problem+json"


def _post(client: Client, body: dict[str, Any]) -> Any:
    return client.post(URL, body, content_type="application/json")


@pytest.fixture
def nina(nurse: tuple[User, Employee]) -> User:
    return nurse[0]


@pytest.mark.django_db
def test_activation_with_qr_payload(nina: User, issuing_ca: IssuingCA, assert_audited: Any,
                                    django_capture_on_commit_callbacks: Any) -> None:
    issued = issue(nina.person)
    key, csr = device_csr("Nina's phone")
    client = Client(enforce_csrf_checks=True)  # the device has no session and no CSRF token
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, {"csr": csr, "qr_payload": issued.qr_payload,
                                  "device_name": "Nina's phone"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"eid_id", "serial", "certificate", "chain", "not_after"}
    cert = x509.load_pem_x509_certificate(body["certificate"].encode())
    cert.verify_directly_issued_by(issuing_ca.cert)
    assert cert.public_key() == key.public_key()
    assert body["serial"] == format(cert.serial_number, "x")
    chain = x509.load_pem_x509_certificates(body["chain"].encode())
    assert chain == [cert, issuing_ca.cert]
    assert dt.datetime.fromisoformat(body["not_after"]) == cert.not_valid_after_utc
    event = assert_audited("eid.activated", subject=nina.person)
    assert event.actor_kind == "device" and event.actor_label == "system:mobile-app"
    assert event.changes["device_name"] == [None, "Nina's phone"]
    assert event.target_id == body["eid_id"]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [nina.person.email]


@pytest.mark.django_db
def test_activation_with_person_number_and_typed_code(nina: User, issuing_ca: IssuingCA) -> None:
    issued = issue(nina.person)
    number = nina.person.identity_numbers.get().extension
    response = _post(Client(), {"csr": device_csr()[1], "person_number": number,
                                "code": issued.short_code, "device_name": "Phone"})
    assert response.status_code == 201, response.content
    assert MobileEID.objects.get(pk=response.json()["eid_id"]).person == nina.person


@pytest.mark.django_db
def test_refusals_are_problem_json_with_stable_codes(nina: User, issuing_ca: IssuingCA) -> None:
    client = Client()
    issued = issue(nina.person)
    csr = device_csr()[1]
    number = nina.person.identity_numbers.get().extension

    response = _post(client, {"csr": csr, "person_number": number, "code": "ZZZZ-ZZZZ"
                              if issued.short_code != "ZZZZ-ZZZZ" else "YYYY-YYYY"})
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "code_invalid"

    response = _post(client, {"csr": "garbage", "qr_payload": issued.qr_payload})
    assert response.status_code == 400 and response.json()["code"] == "csr_invalid"

    assert _post(client, {"csr": csr, "qr_payload": issued.qr_payload}).status_code == 201
    response = _post(client, {"csr": csr, "qr_payload": issued.qr_payload})
    assert response.status_code == 409 and response.json()["code"] == "code_used"
    assert response["Content-Type"] == PROBLEM

    expired = issue(nina.person)
    ActivationCode.objects.filter(pk=expired.code.pk).update(
        created_at=expired.code.created_at - dt.timedelta(minutes=11),
        expires_at=expired.code.expires_at - dt.timedelta(minutes=11),
    )
    response = _post(client, {"csr": csr, "qr_payload": expired.qr_payload})
    assert response.status_code == 410 and response.json()["code"] == "code_expired"

    response = _post(client, {"csr": csr, "person_number": number})
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    response = _post(client, {"qr_payload": expired.qr_payload})
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM


@pytest.mark.django_db(transaction=True)
def test_failed_redemptions_are_audited_and_committed(nurse: tuple[User, Employee],
                                                      issuing_ca: IssuingCA) -> None:
    """No test transaction wraps this one: the rows must have been committed by the request."""
    person = nurse[0].person
    issued = issue(person)
    forged = issued.qr_payload.rsplit(".", 1)[0] + ".BBBBBBBBBBBBBBBBBBBBBB"
    response = _post(Client(), {"csr": device_csr()[1], "qr_payload": forged,
                                "device_name": "Thief's phone"})
    assert response.status_code == 400
    event = AuditEvent.objects.get(action="activation_code.redeem_failed")
    assert event.outcome == "failure" and event.actor_kind == "device"
    assert event.subject_person_id == person.pk and event.target_id == str(issued.code.pk)
    assert ActivationCode.objects.get(pk=issued.code.pk).failed_attempts == 1


@pytest.mark.django_db
def test_ca_certificate_and_crl_are_published(nina: User, issuing_ca: IssuingCA) -> None:
    client = Client()
    response = client.get("/issuance/ca.pem")
    assert response.status_code == 200
    assert x509.load_pem_x509_certificate(response.content) == issuing_ca.cert

    first = redeem_qr(issue(nina.person), device="A")
    second = redeem_qr(issue(nina.person), device="B")
    response = client.get("/issuance/crl")
    assert response.status_code == 200 and response["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    assert crl.is_signature_valid(issuing_ca.key.public_key()) and len(crl) == 0

    services.eid_revoke(actor=nina, eid=first.eid, reason="Phone lost")
    crl = x509.load_der_x509_crl(client.get("/issuance/crl").content)
    assert crl.is_signature_valid(issuing_ca.key.public_key())
    assert crl.get_revoked_certificate_by_serial_number(int(first.eid.serial, 16)) is not None
    assert crl.get_revoked_certificate_by_serial_number(int(second.eid.serial, 16)) is None
    assert crl.next_update_utc is not None and crl.next_update_utc > crl.last_update_utc


@pytest.mark.django_db
def test_ca_endpoints_answer_503_without_a_ca(settings: Any, tmp_path: Any) -> None:
    settings.ISSUANCE_CA_DIR = tmp_path / "missing"
    assert Client().get("/issuance/crl").status_code == 503
    assert Client().get("/issuance/ca.pem").status_code == 503


@pytest.mark.django_db
@pytest.mark.parametrize("old,new", [("2a8648ce3d040302", "2a8648ce3d040309"),  # signature OID
                                     ("2a8648ce3d030107", "2a8648ce3d030108")])  # curve OID
def test_csr_with_unknown_algorithm_is_a_problem_and_audited(nina: User, issuing_ca: IssuingCA,
                                                             old: str, new: str) -> None:
    """A CSR cryptography cannot read past its envelope answers 400 csr_invalid, not a 500."""
    der = x509.load_pem_x509_csr(device_csr()[1].encode()).public_bytes(serialization.Encoding.DER)
    changed = x509.load_der_x509_csr(der.replace(bytes.fromhex(old), bytes.fromhex(new)))
    csr = changed.public_bytes(serialization.Encoding.PEM).decode()
    issued = issue(nina.person)
    response = _post(Client(raise_request_exception=False), {"csr": csr, "qr_payload": issued.qr_payload})
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "csr_invalid"
    event = AuditEvent.objects.get(action="activation_code.redeem_failed")
    assert event.changes["error"] == [None, "csr_invalid"] and event.target_id == str(issued.code.pk)
    assert not MobileEID.objects.exists()


@pytest.mark.django_db
def test_stranger_cannot_write_into_a_patients_log_extract(patient: User, issuing_ca: IssuingCA) -> None:
    """No code for the person: the refusal is audited without a subject, so it is not in their log
    extract; the device name the client chose is never the actor label."""
    for i in range(3):
        response = _post(Client(), {"csr": device_csr()[1], "person_number": "19121212-1212",
                                    "code": "0000-0000", "device_name": f"Dr Evil read your journal #{i}"})
        assert response.status_code == 400 and response.json()["code"] == "code_invalid"
    events = AuditEvent.objects.filter(action="activation_code.redeem_failed")
    assert events.count() == 3
    assert all(e.subject_person_id is None and e.actor_label == "system:mobile-app" for e in events)
    client = Client()
    patient_login(client, patient)
    page = client.get("/patient/log/").content.decode()
    assert "Dr Evil" not in page


@pytest.mark.django_db
def test_refusal_against_a_real_code_names_the_person_but_not_the_device(
    nina: User, issuing_ca: IssuingCA
) -> None:
    patient = nina  # the person whose code is tried; her history shows the refusal
    issued = issue(patient.person)
    wrong = "ZZZZ-ZZZZ" if issued.short_code != "ZZZZ-ZZZZ" else "YYYY-YYYY"
    response = _post(Client(), {"csr": device_csr()[1], "person_number": patient.person.person_number,
                                "code": wrong, "device_name": "Dr Evil read your journal"})
    assert response.status_code == 400
    event = AuditEvent.objects.get(action="activation_code.redeem_failed")
    assert event.subject_person_id == patient.person.pk and event.target_id == str(issued.code.pk)
    assert event.actor_kind == "device" and event.actor_label == "system:mobile-app"
    assert event.changes["device_name"] == [None, "Dr Evil read your journal"]
    assert actor_display(event.actor_label) == "Mobile e-ID app"  # what the history shows


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post", "put", "delete", "options"])
@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/", "/api/v1/eid/activations/x"])
def test_unknown_api_path_is_a_problem(method: str, path: str) -> None:
    response = getattr(Client(enforce_csrf_checks=True), method)(path)
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_every_refused_redemption_is_audited(nina: User, issuing_ca: IssuingCA) -> None:
    """Malformed requests too: no subject (no code was reached), the stand-in target, the error."""
    issued = issue(nina.person)
    csr = device_csr()[1]
    bodies: list[tuple[Any, str]] = [
        ({"csr": csr, "qr_payload": issued.qr_payload, "device_name": "a\u0007b"}, "invalid"),
        ({"csr": " ", "qr_payload": issued.qr_payload}, "csr_invalid"),
        ({"qr_payload": issued.qr_payload}, "invalid"),  # the serializer's field errors
        ({"csr": csr, "qr_payload": issued.qr_payload, "code": "AAAA-AAAA"}, "invalid"),  # both ways
        ({"csr": csr}, "invalid"),  # neither way
        ("{not json", "parse_error"),
    ]
    seen: set[Any] = set()
    for body, code in bodies:
        if isinstance(body, str):
            response = Client().post(URL, body, content_type="application/json")
        else:
            response = _post(Client(), body)
        assert response.status_code == 400 and response.json()["code"] == code, body
        event = AuditEvent.objects.exclude(pk__in=seen).get(action="activation_code.redeem_failed")
        seen.add(event.pk)
        assert event.outcome == "failure" and event.subject_person_id is None, body
        assert event.changes["error"] == [None, code] and event.actor_label == "system:mobile-app"
    assert AuditEvent.objects.filter(action="activation_code.redeem_failed").count() == len(bodies)
    assert ActivationCode.objects.get(pk=issued.code.pk).failed_attempts == 0


@pytest.mark.django_db
def test_typed_form_does_not_tell_whether_a_person_has_a_code(nina: User, issuing_ca: IssuingCA,
                                                              patient: User) -> None:
    """Six wrong tries each with a staff member's number (who has a code: the 6th meets a dead code),
    a patient's number (no code) and an unknown number: the answers are the same, byte for byte."""
    issued = issue(nina.person)
    wrong = "ZZZZ-ZZZZ" if issued.short_code != "ZZZZ-ZZZZ" else "YYYY-YYYY"

    def six(number: str) -> list[tuple[int, bytes]]:
        answers = []
        for _ in range(6):
            response = _post(Client(), {"csr": device_csr()[1], "person_number": number, "code": wrong})
            answers.append((response.status_code, response.content))
        return answers

    with_code = six(nina.person.person_number)
    assert with_code == six("19121212-1212") == six("19850101-0009")
    assert with_code[-1][0] == 400 and b'"code_invalid"' in with_code[-1][1]
    # The refusal of the dead code is still recorded as such, against the code.
    event = AuditEvent.objects.filter(action="activation_code.redeem_failed",
                                      target_id=str(issued.code.pk)).order_by("-occurred_at").first()
    assert event is not None and event.changes["error"] == [None, "code_dead"]
    assert ActivationCode.objects.get(pk=issued.code.pk).failed_attempts == 5

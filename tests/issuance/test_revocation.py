"""The stored CRL (RFC 5280 5): numbers that strictly increase, a nextUpdate within the CA's
validity, made after revocations and on a schedule, served with caching headers and never signed
per request."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from django.conf import settings as django_settings
from django.db.models import F
from django.test import Client
from django.utils import timezone
from django.utils.http import http_date

from apps.audit.models import AuditEvent
from apps.commissions.models import Employee
from apps.core.actors import SYSTEM
from apps.core.errors import Forbidden
from apps.identities.models import User
from apps.issuance import authority, revocation, services, tasks
from apps.issuance.ca import CA_VALIDITY_SECONDS, IssuingCA, ensure_ca
from apps.issuance.models import CertificateRevocationList, MobileEID
from tests.issuance.support import issue, redeem_qr

pytestmark = pytest.mark.django_db


@pytest.fixture
def nina(nurse: tuple[User, Employee]) -> User:
    return nurse[0]


def _new_eid(user: User) -> MobileEID:
    return redeem_qr(issue(user.person)).eid


def _get(client: Client, **headers: str) -> Any:
    response = client.get("/issuance/crl", headers=headers)
    assert response.status_code in (200, 304), response
    return response


def _crl(response: Any) -> x509.CertificateRevocationList:
    assert response.status_code == 200 and response["Content-Type"] == "application/pkix-crl"
    return x509.load_der_x509_crl(response.content)


def _number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def _max_age(response: Any) -> int:
    match = re.fullmatch(r"public, max-age=(\d+)", response["Cache-Control"])
    assert match is not None, response["Cache-Control"]
    return int(match[1])


def _listed(crl: x509.CertificateRevocationList, eid: MobileEID) -> bool:
    return crl.get_revoked_certificate_by_serial_number(int(eid.serial, 16)) is not None


def _age(crl: CertificateRevocationList, minutes: int) -> None:
    """Move the stored CRL `minutes` into the past, as if that much time had passed."""
    shift = dt.timedelta(minutes=minutes)
    CertificateRevocationList.objects.filter(pk=crl.pk).update(
        this_update=F("this_update") - shift, next_update=F("next_update") - shift)


# --- the defects found -----------------------------------------------------------------------------


def test_two_crls_with_different_contents_never_share_a_number(
    nina: User, issuing_ca: IssuingCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found: the number was the epoch second, so a revocation within the same second gave a
    second, different CRL with the same number. The clock stands still here to make it certain."""
    frozen = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: frozen)
    eid = _new_eid(nina)
    client = Client()
    before = _crl(_get(client))
    services.eid_revoke(actor=nina, eid=eid, reason="Phone lost")
    after = _crl(_get(client))
    assert _listed(after, eid) and not _listed(before, eid)
    assert _number(after) > _number(before)
    # thisUpdate (Last-Modified) moves on by a whole second too, so a conditional GET sees it.
    assert after.last_update_utc > before.last_update_utc


def test_next_update_never_lies_past_the_ca_expiry(
    nina: User, settings: Any, tmp_path: Path
) -> None:
    """Found: nextUpdate was thisUpdate + 1 hour even when the CA expired within that hour."""
    settings.ISSUANCE_CA_DIR = tmp_path / "ca"
    now = timezone.now()
    expires_soon = now - dt.timedelta(seconds=CA_VALIDITY_SECONDS) + dt.timedelta(minutes=20)
    ensure_ca(authority.ca_paths(), common_name="Old CA", organisation="Region", now=expires_soon)
    ca = authority.ca_load()
    assert ca.cert.not_valid_after_utc < now + dt.timedelta(minutes=20)

    response = _get(Client())
    crl = _crl(response)
    assert crl.next_update_utc is not None
    assert crl.next_update_utc == ca.cert.not_valid_after_utc
    max_age = _max_age(response)
    assert timezone.now() + dt.timedelta(seconds=max_age) <= crl.next_update_utc


def test_the_endpoint_does_not_sign_per_request(nina: User, issuing_ca: IssuingCA) -> None:
    """Found: every GET signed a new CRL (ECDSA signatures differ each time). Now two GETs while
    nothing changed return the same bytes and entity tag; a revocation changes both."""
    eid = _new_eid(nina)
    client = Client()
    first, second = _get(client), _get(client)
    assert first.content == second.content and first["ETag"] == second["ETag"]
    assert first["Last-Modified"] == second["Last-Modified"]
    assert CertificateRevocationList.objects.count() == 1

    services.eid_revoke(actor=nina, eid=eid, reason="Phone lost")
    third = _get(client)
    assert third.content != first.content and third["ETag"] != first["ETag"]
    assert _listed(_crl(third), eid)
    assert _get(client).content == third.content


# --- numbers, schedule and storage ---------------------------------------------------------------


def test_numbers_strictly_increase_across_revocations_and_scheduled_refreshes(
    nina: User, issuing_ca: IssuingCA, django_capture_on_commit_callbacks: Any
) -> None:
    first_eid, second_eid = _new_eid(nina), _new_eid(nina)
    client = Client()
    numbers = [_number(_crl(_get(client)))]

    # A revocation has a new CRL made when it commits (the task runs eagerly in the tests).
    with django_capture_on_commit_callbacks(execute=True):
        services.eid_revoke(actor=nina, eid=first_eid, reason="Phone lost")
    made = CertificateRevocationList.objects.order_by("-number").first()
    assert made is not None and made.entries == 1
    numbers.append(made.number)

    # The schedule: nothing to do while the CRL is current; a new one when half its life passed.
    assert tasks.crl_refresh_task() == made.number
    _age(made, minutes=31)
    numbers.append(tasks.crl_refresh_task())
    assert numbers[-1] != made.number

    services.eid_revoke(actor=nina, eid=second_eid, reason="Stolen")
    crl = _crl(_get(client))
    numbers.append(_number(crl))
    assert _listed(crl, first_eid) and _listed(crl, second_eid)

    assert numbers == sorted(set(numbers)), numbers
    stored = list(CertificateRevocationList.objects.order_by("number"))
    assert [c.number for c in stored] == numbers
    # Only the current CRL keeps its bytes; the record of every number published stays.
    assert [c.der is not None for c in stored] == [False, False, False, True]


def test_a_scheduled_refresh_comes_before_next_update(nina: User, issuing_ca: IssuingCA) -> None:
    schedule = django_settings.CELERY_BEAT_SCHEDULE["issuance-crl-refresh"]
    assert schedule["task"] == tasks.crl_refresh_task.name
    assert schedule["schedule"] < authority.CRL_VALIDITY_SECONDS / 2

    current = revocation.crl_refresh(actor=SYSTEM)
    assert current.next_update - current.this_update == dt.timedelta(
        seconds=authority.CRL_VALIDITY_SECONDS)
    assert revocation.crl_refresh_at(current) < current.next_update
    _age(current, minutes=29)
    assert tasks.crl_refresh_task() == current.number
    _age(current, minutes=2)  # 31 minutes old: past half of its hour
    renewed = CertificateRevocationList.objects.get(number=tasks.crl_refresh_task())
    current.refresh_from_db()
    assert renewed.number > current.number and renewed.next_update > current.next_update


def test_a_lost_refresh_task_never_hides_a_revocation(nina: User, issuing_ca: IssuingCA) -> None:
    """The after-commit task never runs here (as if the broker lost it): the endpoint sees that
    the stored CRL lists fewer e-IDs than are revoked and makes a new one first."""
    eid = _new_eid(nina)
    client = Client()
    assert not _listed(_crl(_get(client)), eid)
    services.eid_revoke(actor=nina, eid=eid, reason="Phone lost")
    assert _listed(_crl(_get(client)), eid)


def test_the_scheduled_run_recounts_the_revoked_e_ids(nina: User, issuing_ca: IssuingCA) -> None:
    """A revocation written without `eid_revoke` (which the architecture forbids) does not raise
    the counter the endpoint reads; the scheduled run counts the revoked e-IDs and catches it."""
    eid = _new_eid(nina)
    client = Client()
    assert not _listed(_crl(_get(client)), eid)
    MobileEID.objects.filter(pk=eid.pk).update(status=MobileEID.Status.REVOKED,
                                               revoked_at=timezone.now(), revocation_reason="x")
    number = tasks.crl_refresh_task()
    crl = _crl(_get(client))
    assert _number(crl) == number and _listed(crl, eid)


def test_a_new_ca_gets_a_crl_of_its_own(nina: User, issuing_ca: IssuingCA, settings: Any,
                                         tmp_path: Path) -> None:
    client = Client()
    first = _crl(_get(client))
    assert first.is_signature_valid(issuing_ca.key.public_key())
    settings.ISSUANCE_CA_DIR = tmp_path / "new-ca"
    authority.ca_ensure()
    new_ca = authority.ca_load()
    second = _crl(_get(client))
    assert second.is_signature_valid(new_ca.key.public_key())
    assert _number(second) > _number(first)


def test_publishing_is_audited_and_only_for_the_system(nina: User, issuing_ca: IssuingCA) -> None:
    with pytest.raises(Forbidden):
        revocation.crl_refresh(actor=nina)
    _get(Client())
    crl = CertificateRevocationList.objects.get()
    event = AuditEvent.objects.get(action="crl.published", target_id=str(crl.pk))
    assert event.actor_label == "system:issuing-ca" and event.actor_kind == "system"
    assert event.changes["number"] == [None, crl.number]
    assert event.changes["sha256"] == [None, crl.sha256]


# --- HTTP: caching headers and conditional GET ---------------------------------------------------


def test_caching_headers(nina: User, issuing_ca: IssuingCA) -> None:
    response = _get(Client())
    crl = _crl(response)
    stored = CertificateRevocationList.objects.get()
    assert response["ETag"] == f'"{stored.sha256}"'
    assert response["Last-Modified"] == http_date(crl.last_update_utc.timestamp())
    max_age = _max_age(response)
    assert 0 < max_age <= authority.CRL_MAX_AGE_SECONDS


def test_conditional_get(nina: User, issuing_ca: IssuingCA) -> None:
    eid = _new_eid(nina)
    client = Client()
    full = _get(client)
    unchanged = _get(client, if_none_match=full["ETag"])
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged["ETag"] == full["ETag"] and "max-age" in unchanged["Cache-Control"]
    assert _get(client, if_modified_since=full["Last-Modified"]).status_code == 304
    assert _get(client, if_none_match='"something else"').status_code == 200
    assert _get(client, if_none_match="garbage, , W/").status_code == 200
    assert _get(client, if_modified_since="not a date").status_code == 200

    services.eid_revoke(actor=nina, eid=eid, reason="Phone lost")
    changed = _get(client, if_none_match=full["ETag"])
    assert changed.status_code == 200 and _listed(_crl(changed), eid)
    # Last-Modified moved on by at least a second, so If-Modified-Since alone sees the change too.
    assert _get(client, if_modified_since=full["Last-Modified"]).status_code == 200


def test_head_and_other_methods(issuing_ca: IssuingCA, db: Any) -> None:
    client = Client()
    head = client.head("/issuance/crl")
    assert head.status_code == 200 and head["ETag"]
    assert client.post("/issuance/crl").status_code == 405


def test_503_when_the_ca_has_expired(settings: Any, tmp_path: Path, db: Any) -> None:
    settings.ISSUANCE_CA_DIR = tmp_path / "ca"
    long_ago = timezone.now() - dt.timedelta(seconds=CA_VALIDITY_SECONDS + 3600)
    ensure_ca(authority.ca_paths(), common_name="Dead CA", organisation="Region", now=long_ago)
    assert Client().get("/issuance/crl").status_code == 503

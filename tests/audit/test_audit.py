"""The audit guarantees: one writer, actor context, append-only rows that outlive their subjects."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from apps.audit import context, registry
from apps.audit.models import AppendOnlyError, AuditEvent
from apps.audit.services import AuditContextMissing, record
from apps.organisations.models import Organisation


@pytest.mark.django_db(transaction=True)
def test_record_refuses_outside_a_transaction():
    with pytest.raises(AuditContextMissing):
        record(action="organisation.created", target=Organisation(name="unsaved"))
    assert not AuditEvent.objects.exists()


def test_record_refuses_without_actor(tree):
    token = context._current.set(None)
    try:
        with pytest.raises(AuditContextMissing), transaction.atomic():
            record(action="organisation.created", target=tree["region"])
    finally:
        context._current.reset(token)


def test_duplicate_action_code_fails():
    with pytest.raises(registry.DuplicateAction):
        registry.register("commission.granted", "again")


def test_audit_rows_refuse_update_and_delete(tree):
    event = AuditEvent.objects.first()
    assert event is not None
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().update(reason="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigger exists on PostgreSQL only")
def test_postgresql_trigger_rejects_raw_update_and_delete(tree):
    from django.db import DatabaseError

    for sql in ("UPDATE audit_auditevent SET reason = 'x'", "DELETE FROM audit_auditevent"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(sql)


def test_secrets_are_masked(tree):
    with transaction.atomic():
        event = record(action="organisation.created", target=tree["region"],
                       changes={"code_hash": ["a", "b"], "name": [None, "x"]})
    assert event.changes == {"code_hash": ["***", "***"], "name": [None, "x"]}


def test_audit_rows_outlive_what_they_mention(patient) -> None:
    person = patient.person
    person_id = person.pk
    events_before = AuditEvent.objects.filter(subject_person_id=person_id).count()
    assert events_before >= 2  # person registered, login account created
    with transaction.atomic():
        patient.delete()
        person.delete()
    rows = AuditEvent.objects.filter(subject_person_id=person_id)
    assert rows.count() == events_before
    assert {row.subject_label for row in rows} == {"Tolvan Tolvansson"}


@pytest.mark.parametrize(("header", "kept"), [("req-42.a:b_c", True), ("x\x00y", False),
                                              ("a b", False), ("z" * 65, False)])
def test_request_id_from_a_proxy_is_kept_only_when_it_is_an_id(rf, settings, header, kept) -> None:
    """Breaker D12: a NUL in X-Request-ID broke audited writes on PostgreSQL; a client's own
    header is never kept."""
    from apps.audit.middleware import request_id_for

    assert request_id_for(rf.get("/", HTTP_X_REQUEST_ID="req-42")) != "req-42"
    settings.BEHIND_PROXY = True
    request_id = request_id_for(rf.get("/", HTTP_X_REQUEST_ID=header))
    assert (request_id == header) is kept
    assert len(request_id) <= 64 and "\x00" not in request_id


def test_client_address_behind_our_proxy(rf, settings) -> None:
    """Breaker round 2, defect 3: behind a proxy every client had the proxy's address."""
    from apps.audit.middleware import client_ip

    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.7", REMOTE_ADDR="10.0.0.1")
    assert client_ip(request) == "10.0.0.1"
    settings.BEHIND_PROXY = True
    assert client_ip(request) == "192.0.2.7"  # the spoofable first entry is ignored

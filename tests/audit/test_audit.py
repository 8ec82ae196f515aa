"""The audit guarantees: one writer, the service's own actor, append-only rows that outlive their
subjects."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from apps.audit import registry
from apps.audit.models import AppendOnlyError, AuditEvent
from apps.audit.services import AuditContextMissing, record
from apps.core.actors import SYSTEM
from apps.core.calls import policy, service
from apps.organisations.models import Organisation


@policy
def _allow(actor: object) -> None:
    """A policy that lets everyone through (tests of the writer itself)."""


@service
def _write(*, actor: object, recorded_as: object, check: bool = True, **kwargs: object):
    if check:
        _allow(actor)
    return record(actor=recorded_as, **kwargs)  # type: ignore[arg-type]


@pytest.mark.django_db(transaction=True)
def test_record_refuses_outside_a_transaction():
    with pytest.raises(AuditContextMissing):
        _write(actor=SYSTEM, recorded_as=SYSTEM, action="organisation.created",
               target=Organisation(name="unsaved"))
    assert not AuditEvent.objects.exists()


def test_record_refuses_outside_a_service(tree):
    with pytest.raises(AuditContextMissing, match="service"), transaction.atomic():
        record(actor=SYSTEM, action="organisation.created", target=tree["region"])


def test_record_refuses_before_a_policy_was_checked(tree):
    with pytest.raises(AuditContextMissing, match="no policy"), transaction.atomic():
        _write(actor=SYSTEM, recorded_as=SYSTEM, check=False, action="organisation.created",
               target=tree["region"])


def test_record_refuses_another_actor_than_the_services(tree, hospital_admin):
    """A grant by a hospital administrator was once recorded as by whoever the context named."""
    with pytest.raises(AuditContextMissing, match="not the service's actor"), transaction.atomic():
        _write(actor=hospital_admin, recorded_as=SYSTEM, action="organisation.created",
               target=tree["region"])


def test_the_row_names_the_services_actor(tree, hospital_admin, nurse):
    from apps.commissions import services

    _, employee = nurse
    commission = services.commission_grant(
        actor=hospital_admin, employee=employee, care_unit=tree["ortho"],
        purpose="Vård och behandling", rights=["Läsa;alla;VE"],
        valid_from=employee.created_at, valid_until=None)
    event = AuditEvent.objects.get(action="commission.granted", target_id=str(commission.pk))
    assert (event.actor_id, event.actor_kind) == (hospital_admin.pk, "user")
    assert (event.actor_label, event.actor_identifier) == ("Astrid Admin", hospital_admin.username)


def test_duplicate_action_code_fails():
    with pytest.raises(registry.DuplicateAction):
        registry.register("commission.granted", "again")
    with pytest.raises(registry.DuplicateAction):
        registry.register_reason("activation_code.replaced", "again")
    with pytest.raises(registry.DuplicateAction):
        registry.register_target("commissions.roleassignment", str)


def test_a_reason_code_is_shown_in_the_readers_language_and_typed_text_as_typed():
    """Found: "Replaced by a newer activation code." stayed English in the Swedish UI,
    and refusal reasons stayed in the language of the request that wrote them."""
    from django.template import Context, Template
    from django.utils import translation

    template = Template("{% load audit_tags %}{{ reason|reason_text }}")
    with translation.override("sv"):
        assert template.render(Context({"reason": "activation_code.replaced"})) == (
            "Ersatt av en nyare aktiveringskod.")
    with translation.override("en"):
        assert template.render(Context({"reason": "activation_code.replaced"})) == (
            "Replaced by a newer activation code.")
        assert template.render(Context({"reason": "Flyttat till annan enhet"})) == (
            "Flyttat till annan enhet")


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
        event = _write(actor=SYSTEM, recorded_as=SYSTEM, action="organisation.created",
                       target=tree["region"], changes={"code_hash": ["a", "b"], "name": [None, "x"]})
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
    """A NUL in X-Request-ID broke audited writes on PostgreSQL; a client's own
    header is never kept."""
    from apps.audit.middleware import request_id_for

    assert request_id_for(rf.get("/", HTTP_X_REQUEST_ID="req-42")) != "req-42"
    settings.BEHIND_PROXY = True
    request_id = request_id_for(rf.get("/", HTTP_X_REQUEST_ID=header))
    assert (request_id == header) is kept
    assert len(request_id) <= 64 and "\x00" not in request_id


def test_client_address_behind_our_proxy(rf, settings) -> None:
    """Behind a proxy every client had the proxy's address."""
    from apps.audit.middleware import client_ip

    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.7", REMOTE_ADDR="10.0.0.1")
    assert client_ip(request) == "10.0.0.1"
    settings.BEHIND_PROXY = True
    assert client_ip(request) == "192.0.2.7"  # the spoofable first entry is ignored


@pytest.mark.parametrize(("headers", "proxies", "expected"), [
    ({"HTTP_X_FORWARDED_FOR": "192.0.2.7"}, 1, "192.0.2.7"),
    ({"HTTP_X_FORWARDED_FOR": "6.6.6.6, 7.7.7.7, 192.0.2.7"}, 1, "192.0.2.7"),
    # Two proxies of ours: the load balancer appended the client, the next proxy the balancer.
    ({"HTTP_X_FORWARDED_FOR": "6.6.6.6, 192.0.2.7, 10.0.0.9"}, 2, "192.0.2.7"),
    # A client in the intranet behind a proxy that reaches us from a public address.
    ({"HTTP_X_FORWARDED_FOR": "10.20.30.40", "REMOTE_ADDR": "8.8.8.8"}, 1, "10.20.30.40"),
    ({"HTTP_X_FORWARDED_FOR": "2001:db8::1"}, 1, "2001:db8::1"),
    # Other forwarding headers are the client's own claims.
    ({"HTTP_X_REAL_IP": "6.6.6.6", "HTTP_FORWARDED": "for=6.6.6.6", "HTTP_CLIENT_IP": "6.6.6.6"}, 1,
     "10.0.0.1"),
    # No address in the header (a proxy hiding the client, garbage): the peer, never the text.
    ({"HTTP_X_FORWARDED_FOR": "unknown"}, 1, "10.0.0.1"),
    ({"HTTP_X_FORWARDED_FOR": "999.1.1.1"}, 1, "10.0.0.1"),
    ({}, 1, "10.0.0.1"),
])
def test_client_address_comes_only_from_our_proxies(rf, settings, headers, proxies, expected) -> None:
    from apps.audit.middleware import client_ip

    settings.BEHIND_PROXY = True
    settings.PROXY_COUNT = proxies
    request = rf.get("/", **{"REMOTE_ADDR": "10.0.0.1", **headers})
    assert client_ip(request) == expected


def test_without_a_proxy_forwarding_headers_are_ignored(rf, settings) -> None:
    from apps.audit.middleware import client_ip

    request = rf.get("/", HTTP_X_FORWARDED_FOR="192.0.2.7", HTTP_X_REAL_IP="192.0.2.8",
                     REMOTE_ADDR="10.0.0.1")
    assert client_ip(request) == "10.0.0.1"
    request.META["REMOTE_ADDR"] = "not an address"
    assert client_ip(request) is None


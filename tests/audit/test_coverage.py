"""Every write of a domain model has its audit event: the whole demo region is built through the
services with a tracker on, and any saved row without a matching event fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.apps import apps
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

from apps.audit.models import AuditEvent
from apps.core.actors import SYSTEM
from apps.demo import seed
from apps.organisations.models import Organisation
from apps.organisations.services import organisation_create

DOMAIN_APPS = {"identities", "organisations", "commissions", "consents", "blocks", "rules",
               "issuance", "authn", "provisioning"}
# Rows written together with a parent, inside the parent's audited service: the parent's event
# covers them (the event's `changes` names the child's values).
# A row that names the audit event it was written with (an emergency opening names its decision's
# event) is covered by that event.
COVERED_BY_PARENT = {"identities.identitynumber": "person_id",
                     "rules.emergencyopening": "decision_id"}


@contextmanager
def track_writes() -> Iterator[list[tuple[str, str, models.Model]]]:
    written: list[tuple[str, str, models.Model]] = []

    def on_write(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
        if sender._meta.app_label in DOMAIN_APPS:
            written.append((sender._meta.label_lower, str(instance.pk), instance))

    post_save.connect(on_write, weak=False, dispatch_uid="audit-coverage-save")
    post_delete.connect(on_write, weak=False, dispatch_uid="audit-coverage-delete")
    try:
        yield written
    finally:
        post_save.disconnect(dispatch_uid="audit-coverage-save")
        post_delete.disconnect(dispatch_uid="audit-coverage-delete")


def unaudited(written: list[tuple[str, str, models.Model]]) -> list[str]:
    audited = set(AuditEvent.objects.values_list("target_id", flat=True)) | {
        str(pk) for pk in AuditEvent.objects.values_list("id", flat=True)}
    missing = []
    for label, pk, instance in written:
        parent_field = COVERED_BY_PARENT.get(label)
        key = str(getattr(instance, parent_field)) if parent_field else pk
        if key not in audited:
            missing.append(f"{label} {pk}")
    return missing


@pytest.mark.django_db
def test_every_domain_write_in_the_demo_region_is_audited(settings: Any) -> None:
    with track_writes() as written:
        assert seed.seed()
    kinds = {label for label, _, _ in written}
    assert {"identities.person", "organisations.organisation", "commissions.commission",
            "commissions.roleassignment"} <= kinds
    assert unaudited(written) == []


@pytest.mark.django_db
def test_a_write_without_its_audit_event_is_caught() -> None:
    with track_writes() as written:
        organisation_create(actor=SYSTEM, hsa_id="SE2321990000-0001", name="Audited",
                            is_care_provider=True, org_number="232199-0000")
        with transaction.atomic():
            Organisation.objects.create(hsa_id="SE2321990000-0002", name="Sneaked in",
                                        path="/SE2321990000-0002/")
    missing = unaudited(written)
    assert len(missing) == 1 and missing[0].startswith("organisations.organisation")


def test_every_domain_app_is_installed() -> None:
    installed = {config.label for config in apps.get_app_configs()}
    assert installed >= DOMAIN_APPS

"""Rotating the key of downstream systems' stored credentials (docs/configuration.md, "Rotating
the provisioning credential key")."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.actors import SYSTEM
from apps.core.errors import Forbidden
from apps.provisioning import credentials, services
from apps.provisioning.models import AccessTokenCache, DownstreamSystem

from .conftest import TOKEN, UNUSED_URL, make_system

pytestmark = pytest.mark.django_db


def test_rotation_reads_old_keys_and_writes_with_the_new_one(settings, tree, assert_audited):
    old = settings.PORTAL_PROVISIONING_CREDENTIAL_KEYS[0]
    system = make_system(tree["region"], UNUSED_URL)
    AccessTokenCache.objects.create(system=system, token=credentials.encrypt({"access_token": "a"}),
                                    expires_at=timezone.now() + timedelta(hours=1))
    new = Fernet.generate_key().decode()
    settings.PORTAL_PROVISIONING_CREDENTIAL_KEYS = [new, old]

    out = StringIO()
    call_command("provisioning_keys_rotate", stdout=out)
    assert "Re-encrypted the credentials of 1 downstream systems" in out.getvalue()

    settings.PORTAL_PROVISIONING_CREDENTIAL_KEYS = [new]  # the old key is gone from the settings
    system.refresh_from_db()
    assert credentials.decrypt(system.credentials) == {"token": TOKEN}
    assert credentials.decrypt(AccessTokenCache.objects.get(system=system).token) == {
        "access_token": "a"}
    assert_audited("downstream_system.rekeyed", target=system)


def test_rotation_changes_nothing_when_a_key_is_missing(settings, tree):
    system = make_system(tree["region"], UNUSED_URL)
    settings.PORTAL_PROVISIONING_CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(InvalidToken):
        services.downstream_system_credentials_rotate(actor=SYSTEM)
    assert DownstreamSystem.objects.get(pk=system.pk).credentials == system.credentials
    assert not AuditEvent.objects.filter(action="downstream_system.rekeyed").exists()


def test_only_the_operator_rotates(hospital_admin):
    with pytest.raises(Forbidden):
        services.downstream_system_credentials_rotate(actor=hospital_admin)

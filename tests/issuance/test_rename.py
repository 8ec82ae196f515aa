"""The owner names their e-ID's device on My e-IDs; nobody else can; the table shows last use."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.core.errors import NotFound, ValidationFailed
from apps.core.loa import LOA2
from apps.issuance import services
from tests.conftest import login_session
from tests.issuance.support import issue, redeem_qr


def test_the_owner_renames_and_nobody_else(nurse, issuer, issuing_ca):
    user, _ = nurse
    eid = redeem_qr(issue(user.person)).eid
    with pytest.raises(NotFound):
        services.eid_rename(actor=issuer, eid=eid, device_name="Not mine")
    with pytest.raises(ValidationFailed):
        services.eid_rename(actor=user, eid=eid, device_name="x" * 65)
    renamed = services.eid_rename(actor=user, eid=eid, device_name="  Jobbtelefon\u0007 ")
    assert renamed.device_name == "Jobbtelefon"
    assert AuditEvent.objects.get(action="eid.renamed").changes["device_name"] == [
        "Test phone", "Jobbtelefon"]


def test_my_eids_shows_last_use_and_a_rename_page(nurse, issuing_ca):
    user, _ = nurse
    eid = redeem_qr(issue(user.person)).eid
    client = login_session(Client(), user, loa=LOA2, methods=("pwd", "otp"), idp=None)
    listing = client.get(reverse("selfservice:my_eids")).content.decode()
    assert "Last used" in listing and reverse("selfservice:my_eid_name", args=[eid.pk]) in listing
    response = client.post(reverse("selfservice:my_eid_name", args=[eid.pk]),
                           {"device_name": "Pixel"})
    assert response.status_code == 302
    assert "Pixel" in client.get(reverse("selfservice:my_eids")).content.decode()

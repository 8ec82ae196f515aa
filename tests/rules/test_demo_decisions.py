"""The demo region has decisions to show: Tolvan's log extract lists Sara's reads (not the denied
one), and two emergency openings wait for Anna's follow-up (Henrik administers another hospital)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.urls import reverse

from apps.demo import seed
from apps.identities.models import User
from apps.rules.models import EmergencyOpening
from tests.conftest import login_session


@pytest.mark.django_db
def test_the_demo_has_reads_and_openings_to_follow_up(client: Any) -> None:
    assert seed.seed()
    assert EmergencyOpening.objects.filter(reviewed_at__isnull=True).count() == 2
    tolvan = User.objects.get(person__given_name="Tolvan", kind=User.Kind.PATIENT)
    login_session(client, tolvan)
    body = html.unescape(re.sub(r"<[^>]+>", " ", client.get(
        reverse("selfservice:patient_log")).content.decode()))
    text = " ".join(body.split())
    assert "Sara Sjuksköterska" in text and "Kardiologiska kliniken" in text
    assert "Akutmottagningen" in text and "Write: medication" in text
    assert "Husläkarna" not in text  # the denied read is not in the extract

    for username, sees in (("anna.admin", True), ("henrik.admin", False)):
        client.logout()
        login_session(client, User.objects.get(username=username))
        page = client.get(reverse("administration:emergency_list")).content.decode()
        assert ("Medvetslös vid ankomst" in page) is sees, username

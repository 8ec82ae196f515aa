"""Figures for the out-of-band login with the mobile e-ID: a whole login through the test client
(the start page, the app's signed approval through the API with the certificate's chain,
validity and revocation checked, the waiting page completing the session). Prints, never
asserts."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.test import Client

from apps.identities.models import User
from apps.issuance import rules
from apps.issuance.models import OutOfBandRequest
from tests.issuance.oob_support import activate


def main(measure: Callable[..., None]) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the test client's host
    # One person approves every login here: lift the per-person limit (5 per 10 minutes)
    # for the run only, so the figure is the flow's cost, not the limit's refusal.
    rules.OOB_MAX_APPROVALS_PER_PERSON = 10**6
    wallet = activate(User.objects.get(username="sara.staff").person, device="bench phone")

    def login() -> Any:
        browser, app = Client(REMOTE_ADDR="192.0.2.10"), Client()
        page = browser.post("/login/mobile-eid/").content.decode()
        found = re.search(r"EIDAUTH1\.([A-Za-z0-9_-]{32})", page)
        assert found is not None
        req = OutOfBandRequest.objects.get(reference=found.group(1))
        approved = app.post(
            f"/api/v1/eid/auth-requests/{req.reference}/approval",
            {"serial": wallet.serial, "number": req.number,
             "signature": base64.b64encode(wallet.sign(req)).decode("ascii")},
            content_type="application/json")
        assert approved.status_code == 200, approved.content
        done = browser.get("/login/mobile-eid/wait/")
        assert done.status_code == 302
        return done

    measure("mobile e-ID: whole login (start, approve, complete)", login, repeat=30,
            queries=False)

"""End to end: a staff member gets a code on the pages, the real reference app
(`clients/mobile_app/eid_app.py`, in a subprocess) activates it against the live portal, `verify`
says valid; after revocation on the pages, `verify` says revoked."""

from __future__ import annotations

import html
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from apps.commissions.models import Employee
from apps.identities.models import User
from apps.issuance.ca import IssuingCA
from apps.issuance.models import MobileEID
from tests.conftest import PASSWORD, totp_now

ROOT = Path(django_settings.BASE_DIR)


def _run(args: list[str], lang: str = "en_GB.UTF-8") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES")}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
                          env={**env, "LANG": lang})


def _command_from_page(page: str, element_id: str, wallet: Path) -> list[str]:
    match = re.search(rf'<code id="{element_id}">(.*?)</code>', page, re.S)
    assert match is not None, f"no {element_id} on the code page"
    args = shlex.split(html.unescape(match.group(1)))
    assert args[:2] == [".venv/bin/python", "clients/mobile_app/eid_app.py"]
    args[0] = sys.executable
    args[args.index("--wallet") + 1] = str(wallet)
    return args


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("form", ["command-typed", "command-qr"])
def test_reference_app_activates_verifies_and_sees_revocation(
    form: str, live_server: Any, settings: Any, nurse: tuple[User, Employee],
    issuing_ca: IssuingCA, tmp_path: Path, federation: Any,
) -> None:
    user = nurse[0]
    client = Client()
    client.post(reverse("authn:login"), {"username": user.username, "password": PASSWORD})
    client.post(reverse("authn:otp"), {"token": totp_now()})
    federation.login(client, user.person, step_up=True)
    settings.PORTAL_BASE_URL = live_server.url  # the code page names the portal the app calls
    page = client.post(reverse("selfservice:my_eid_new")).content.decode()

    wallet = tmp_path / "wallet.json"
    command = _command_from_page(page, form, wallet)
    assert command[command.index("--portal") + 1] == live_server.url
    activated = _run(command)
    assert activated.returncode == 0, activated.stderr
    assert "activated e-ID" in activated.stdout

    verify = [sys.executable, "clients/mobile_app/eid_app.py", "verify", "--wallet", str(wallet)]
    checked = _run(verify)
    assert (checked.returncode, checked.stdout.strip()) == (0, "valid"), checked.stderr

    eid = MobileEID.objects.get(person=user.person)
    assert eid.serial in _run([sys.executable, "clients/mobile_app/eid_app.py", "show",
                               "--wallet", str(wallet)]).stdout

    # Log in with the new e-ID on a separate channel: the browser shows a request text and a
    # number, the app approves it, and the browser's next check logs in at level 3.
    browser = Client()
    shown = browser.post("/login/mobile-eid/").content.decode()
    request_text = re.search(r"EIDAUTH1\.[A-Za-z0-9_-]{32}", shown)
    number = re.search(r">([0-9]{2})</strong>", shown)
    assert request_text and number, shown
    approve = [sys.executable, "clients/mobile_app/eid_app.py", "approve", "--wallet",
               str(wallet), "--request", request_text.group(0), "--number", number.group(1)]
    approved = _run(approve)
    assert approved.returncode == 0 and approved.stdout.strip().endswith("approved"), (
        approved.stdout, approved.stderr)
    assert browser.get("/login/mobile-eid/wait/").status_code == 302
    assert browser.session["authn"]["methods"] == ["mobile_eid"]
    assert browser.session["authn"]["eid_serial"] == eid.serial
    # The app says no to another request: signed, so the portal takes it, and that browser is
    # told so.
    other = Client()
    shown = other.post("/login/mobile-eid/").content.decode()
    request_text = re.search(r"EIDAUTH1\.[A-Za-z0-9_-]{32}", shown)
    assert request_text, shown
    denied = _run([sys.executable, "clients/mobile_app/eid_app.py", "approve", "--wallet",
                   str(wallet), "--request", request_text.group(0), "--deny"])
    assert denied.returncode == 0 and denied.stdout.strip().endswith("denied"), denied.stderr
    assert "You said no in the app" in other.get("/login/mobile-eid/wait/").content.decode()
    page = client.get(reverse("selfservice:my_eids")).content.decode()
    assert eid.serial in page
    response = client.post(reverse("selfservice:eid_revoke", args=[eid.pk]),
                           {"reason": "Phone lost"})
    assert response.status_code == 302

    checked = _run(verify)
    assert checked.returncode == 2 and checked.stdout.startswith("revoked"), checked.stdout

    again = _run(command[:-1] + [command[-1]] + ["--force"])
    assert again.returncode == 1 and "already been used" in again.stderr
    # A Swedish user reads the refusal in Swedish, without an English reason phrase before it.
    again = _run(command[:-1] + [command[-1]] + ["--force"], lang="sv_SE.UTF-8")
    assert again.returncode == 1
    assert again.stderr.strip() == "Aktiveringskoden har redan använts.", again.stderr

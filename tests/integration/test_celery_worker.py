"""A real Celery worker on Redis sends the e-mail that an e-ID was bound to a person, woken by the
task enqueued after the commit (no beat running)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.issuance.models import MobileEID
from tests.conftest import make_staff
from tests.integration.conftest import mails, wait_for
from tests.issuance.support import issue, redeem_qr

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_worker_sends_the_activation_email(start_celery: Any, var_dir: Path, tree: Any,
                                           issuing_ca: Any) -> None:
    start_celery("worker")
    user, _ = make_staff(tree["cardio"], "Wilma", "Worker", care=True)
    activation = redeem_qr(issue(user.person))
    assert MobileEID.objects.filter(pk=activation.eid.pk).exists()

    assert wait_for(lambda: mails(var_dir)), "the worker sent no e-mail within 60 s"
    text = mails(var_dir)[0]
    assert "To: wilma@example.invalid" in text
    assert activation.eid.serial in text

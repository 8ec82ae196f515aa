"""scim2-tester (`scim2_tester.check_server`) against the inbound SCIM server, started for real
by pytest-django's live server and reached over HTTP with scim2-client's httpx2 engine and a real
client credentials token. Every check passes, or is in `NOT_APPLICABLE` with the reason, which
docs/scim-inbound.md ("Conformance") lists too."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from tests.api.scim_support import client_token, hr_system
from tests.federation.oidc_support import use_provider

pytestmark = pytest.mark.django_db(transaction=True)

_NAMES = ("the portal registers a person only with a given and a family name (the joiner rule, "
          "docs/journey-joiner.md); the tester's generated User has no name, so its creation "
          "is refused 400 invalidValue")
_ROLES = ("Groups are the portal's fixed system roles: they are neither created nor deleted "
          "over SCIM (403); only their members change")

#: (check, resource type) → why it cannot pass against the portal (docs/scim-inbound.md).
NOT_APPLICABLE = {
    **{(check, "User"): _NAMES for check in (
        "object_creation", "object_query", "object_query_without_id",
        "object_query_with_attributes", "object_list_with_attributes", "search_with_attributes",
        "object_replacement", "object_deletion", "check_add_attribute",
        "check_replace_attribute", "check_remove_attribute")},
    **{(check, "Group"): _ROLES for check in (
        "object_creation", "object_query", "object_query_without_id", "object_replacement",
        "object_deletion", "check_add_attribute", "check_replace_attribute")},
    # These Group checks first create a User to be a member.
    **{(check, "Group"): _NAMES for check in (
        "object_query_with_attributes", "object_list_with_attributes", "search_with_attributes",
        "check_remove_attribute")},
}


def test_scim2_tester_passes_or_names_why_not(live_server: Any, settings: Any,
                                              tree: Any) -> None:
    use_provider(settings, live_server.url)
    token = client_token(hr_system(tree["hospital"]))
    with httpx2.Client(base_url=f"{live_server.url}/scim/v2", timeout=60,
                       headers={"Authorization": f"Bearer {token}"}) as http:
        results = check_server(SyncSCIMClient(http))
    assert len(results) > 20
    failing = {(r.title, r.resource_type): r.reason for r in results
               if r.status not in (Status.SUCCESS, Status.SKIPPED)}
    unexplained = {key: reason for key, reason in failing.items() if key not in NOT_APPLICABLE}
    assert not unexplained
    assert any(r.status == Status.SUCCESS for r in results)

"""Shared set-up of the inbound SCIM server's tests: an HR system of the hospital registered at the
portal's identity provider with the scope `scim`, and its real client credentials token."""

from __future__ import annotations

import base64
from typing import Any

from django.test import Client as DjangoClient

from tests.federation.oidc_support import Registered, register

SCIM = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
HSA = "urn:se:vardportal:scim:schemas:extension:hsa:1.0:User"


def hr_system(organisation: Any, scopes: tuple[str, ...] = ("scim",)) -> Registered:
    """An approved client credentials client of `organisation` allowed `scopes`."""
    return register(organisation, grant_type="client-credentials", scopes=scopes, claims=())


def client_token(registered: Registered, scope: str = "scim") -> str:
    """A client credentials access token from the portal's token endpoint (RFC 6749 4.4)."""
    pair = f"{registered.client_id}:{registered.secret}".encode()
    answer = DjangoClient().post("/oauth2/token/", {"grant_type": "client_credentials",
                                                    "scope": scope},
                                 HTTP_AUTHORIZATION="Basic " + base64.b64encode(pair).decode())
    assert answer.status_code == 200, answer.content
    return str(answer.json()["access_token"])


class Scim:
    """A SCIM client over Django's test client with a bearer token."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.http = DjangoClient()

    def _headers(self, extra: dict[str, str]) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **{k.replace("_", "-"): v for k, v in extra.items()}}

    def get(self, path: str, **headers: str) -> Any:
        return self.http.get(f"/scim/v2/{path}", headers=self._headers(headers))

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.http.post(f"/scim/v2/{path}", body, content_type=SCIM,
                              headers=self._headers(headers))

    def put(self, path: str, body: Any, **headers: str) -> Any:
        return self.http.put(f"/scim/v2/{path}", body, content_type=SCIM,
                             headers=self._headers(headers))

    def patch(self, path: str, operations: list[dict[str, Any]], **headers: str) -> Any:
        return self.http.patch(f"/scim/v2/{path}",
                               {"schemas": [PATCH_SCHEMA], "Operations": operations},
                               content_type=SCIM, headers=self._headers(headers))

    def delete(self, path: str, **headers: str) -> Any:
        return self.http.delete(f"/scim/v2/{path}", headers=self._headers(headers))


def new_user(user_name: str, given: str = "Hanna", family: str = "Hr", **extra: Any
             ) -> dict[str, Any]:
    """A minimal User the HR system posts."""
    return {"schemas": [USER_SCHEMA], "userName": user_name,
            "name": {"givenName": given, "familyName": family},
            "emails": [{"value": f"{user_name}@hr.example.com", "type": "work"}], **extra}

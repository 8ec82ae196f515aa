"""The inbound SCIM 2.0 server's HTTP side (RFC 7644): authentication of the client system, the
service provider's published configuration, and the translation between Django's request and
response and scim2-server's protocol core (`ScimService`, `ScimHandler`) over the portal's
storage (`apps.provisioning.inbound.PortalScimStorage`). docs/scim-inbound.md.

Authentication (RFC 7644 §2): `Authorization: Bearer <access token>` of the portal's own identity
provider, issued to the system by the client credentials grant (RFC 6749 §4.4) with the scope
`scim`. A missing or bad token is 401 with a Bearer challenge (RFC 6750 §3); a token without the
scope, or one issued to a person's login, is 403. `/ServiceProviderConfig` needs no token
(RFC 7643 §5). Every answer is `application/scim+json`; errors are SCIM errors (RFC 7644 §3.12).
"""

from __future__ import annotations

import json
import logging
import re

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.settings import oauth2_settings
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    EnterpriseUser,
    ETag,
    Filter,
    ForbiddenException,
    Group,
    Mutability,
    Patch,
    PayloadTooLargeException,
    Required,
    ResourceType,
    Schema,
    SCIMException,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    TooManyException,
    UnauthorizedException,
)
from scim2_models import User as ScimUser
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.routing import Operation
from scim2_server.service import ScimService

from apps.core.actors import ClientSystem
from apps.core.db import is_lock_conflict
from apps.core.errors import PortalError
from apps.federation import selectors as federation
from apps.federation.oidc import access_tokens
from apps.provisioning.inbound import PortalScimStorage, scim_error
from apps.provisioning.schema import HsaUser, InboundUser

logger = logging.getLogger(__name__)

#: The OAuth2 scope a client credentials token needs (settings.OAUTH2_PROVIDER["SCOPES"]).
SCIM_SCOPE = "scim"
#: The most resources one search returns (RFC 7644 §3.4.2.4 `maxResults`).
MAX_RESULTS = 200
#: The largest request body, in bytes: far above any one User or Group, far below the portal's
#: `DATA_UPLOAD_MAX_MEMORY_SIZE`, so one request cannot hold a worker for long (413, RFC 7644
#: §3.12 leaves the limit to the service provider).
MAX_BODY_BYTES = 256 * 1024
#: The most comparisons (`attrPath op value`, `attrPath pr`) one filter may hold; more is
#: 400 `tooMany` (RFC 7644 §3.4.2.2, §3.12) before the filter is parsed or evaluated.
MAX_FILTER_TERMS = 200
#: The most operations one PATCH may carry; more is 400 `tooMany` before any is applied.
MAX_PATCH_OPERATIONS = 100
#: The URL prefix of the server (portal/urls.py).
PREFIX = "/scim/v2"

CONFIG = ServiceProviderConfig(
    documentation_uri=None,
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=True),
    etag=ETag(supported=True),
    authentication_schemes=[AuthenticationScheme(
        type=AuthenticationScheme.Type.oauthbearertoken, name="OAuth Bearer Token",
        description="A client credentials access token of the portal's identity provider with "
                    "the scope scim (RFC 6749 4.4, RFC 6750)",
        primary=True)],
)

#: What the portal stores of each published schema, by attribute (sub-attributes after a dot),
#: with the mutability and requiredness it has here (RFC 7643 §7: a service provider publishes
#: the attributes it supports). Everything else is left out of `/Schemas` and ignored in requests.
SUPPORTED: dict[str, dict[str, tuple[Mutability, Required]]] = {
    str(ScimUser.__schema__): {
        # The login username: chosen at registration, never changed.
        "userName": (Mutability.immutable, Required.true),
        # A person is registered by given and family name (docs/journey-joiner.md).
        "name": (Mutability.read_write, Required.true),
        "name.givenName": (Mutability.read_write, Required.true),
        "name.familyName": (Mutability.read_write, Required.true),
        "displayName": (Mutability.read_only, Required.false),
        # The employee HSA-id's title and the person's e-mail: given at registration.
        "title": (Mutability.immutable, Required.false),
        "emails": (Mutability.immutable, Required.false),
        "emails.value": (Mutability.immutable, Required.false),
        "emails.type": (Mutability.immutable, Required.false),
        "emails.primary": (Mutability.immutable, Required.false),
        # The staff login account is active or deactivated: always one or the other.
        "active": (Mutability.read_write, Required.true),
    },
    str(EnterpriseUser.__schema__): {
        "employeeNumber": (Mutability.read_only, Required.false),
        "organization": (Mutability.read_only, Required.false),
    },
    # Employments, commissions and care units are the portal's: HR systems read them.
    str(HsaUser.__schema__): {
        name: (Mutability.read_only, Required.false) for name in (
            "employments", "employments.hsaId", "employments.organisationHsaId",
            "employments.title", "commissions", "commissions.hsaId", "commissions.name",
            "commissions.purpose", "commissions.careProviderHsaId", "commissions.careUnitHsaId",
            "commissions.employeeHsaId", "commissions.validFrom", "commissions.validUntil",
            "careUnits")},
    str(Group.__schema__): {
        # A system role's name is the portal's; its members are what an HR system changes.
        "displayName": (Mutability.read_only, Required.false),
        "members": (Mutability.read_write, Required.false),
        "members.value": (Mutability.immutable, Required.false),
        "members.$ref": (Mutability.immutable, Required.false),
        "members.type": (Mutability.immutable, Required.false),
        "members.display": (Mutability.read_only, Required.false),
    },
}


class PortalProvider(ScimProvider):
    """The service's description: `/Schemas` publishes only what the portal stores, with the
    mutability it has here (`SUPPORTED`)."""

    @property
    def schemas(self) -> tuple[Schema, ...]:
        return tuple(_supported(schema) for schema in super().schemas)


def _supported(schema: Schema) -> Schema:
    """`schema` reduced to its `SUPPORTED` attributes, each with the portal's mutability and
    requiredness."""
    rules = SUPPORTED.get(str(schema.id))
    if rules is None:
        return schema
    schema = schema.model_copy(deep=True)
    kept = []
    for attribute in schema.attributes or []:
        if attribute.name not in rules:
            continue
        attribute.mutability, attribute.required = rules[str(attribute.name)]
        subs = []
        for sub in attribute.sub_attributes or []:
            rule = rules.get(f"{attribute.name}.{sub.name}")
            if rule is not None:
                sub.mutability, sub.required = rule
                subs.append(sub)
        attribute.sub_attributes = subs or None
        kept.append(attribute)
    schema.attributes = kept
    return schema


PROVIDER = PortalProvider(
    models=[ScimUser, EnterpriseUser, HsaUser, Group],
    resource_types=[ResourceType.from_resource(InboundUser), ResourceType.from_resource(Group)],
    config=CONFIG,
)
SERVICE = ScimService(PROVIDER)


class InsufficientScope(ForbiddenException):
    """RFC 6750 §3.1 `insufficient_scope` (403), answered with its `WWW-Authenticate` challenge
    naming the scope needed (`CHALLENGE`)."""


CHALLENGE = f'Bearer realm="SCIM", error="insufficient_scope", scope="{SCIM_SCOPE}"'


def _client(request: HttpRequest) -> ClientSystem:
    """The client system behind the request's bearer token. Raises UnauthorizedException (no,
    bad, expired or revoked token; a client no longer approved) or ForbiddenException (no `scim`
    scope: RFC 6750 §3.1 `insufficient_scope`; a token of a person's login)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedException(detail="A bearer access token is required")
    try:
        claims = access_tokens.authenticate(token.strip(),
                                            issuer=oauth2_settings.oidc_issuer(request))
    except access_tokens.InvalidAccessToken:
        raise UnauthorizedException(detail="The access token is invalid") from None
    if SCIM_SCOPE not in str(claims.get("scope", "")).split():
        raise InsufficientScope(detail="insufficient_scope: the access token lacks the scope scim")
    client_id = str(claims.get("client_id", ""))
    if claims.get("sub") != client_id or "auth_time" in claims:
        raise ForbiddenException(detail="Only a system's own access token (client credentials "
                                        "grant) is accepted")
    found = federation.client_organisation(client_id)
    if found is None:
        raise UnauthorizedException(detail="The client is not approved")
    name, organisation_id = found
    return ClientSystem(client_id=client_id, name=name, organisation_id=organisation_id)


def _scim_request(request: HttpRequest, path: str) -> ScimRequest:
    headers = dict(request.headers.items())
    return ScimRequest(method=request.method or "GET",
                       base_url=request.build_absolute_uri(PREFIX),
                       path="/" + path.removesuffix(".scim").lstrip("/"),
                       query={key: request.GET[key] for key in request.GET},
                       headers=headers, body=request.body)


#: A quoted value (RFC 7644 §3.4.2.2 `compValue`, a JSON string) and a comparison operator.
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_OPERATOR = re.compile(r"\b(?:eq|ne|co|sw|ew|gt|ge|lt|le|pr)\b", re.IGNORECASE)


def _check_cost(scim_request: ScimRequest) -> None:
    """Refuse a request whose work grows without bound before any of it is done: a filter of
    more than `MAX_FILTER_TERMS` comparisons (in `?filter=` or a `.search` body) or a PATCH of
    more than `MAX_PATCH_OPERATIONS` operations. Raises TooManyException (400 `tooMany`, RFC
    7644 §3.12). A body that is not a JSON object is left to scim2-server (400
    `invalidSyntax`)."""
    filters = [scim_request.query.get("filter", "")]
    body: object = None
    if scim_request.body:
        try:
            body = json.loads(scim_request.body)
        except ValueError:
            body = None
    if isinstance(body, dict):
        found = body.get("filter")
        filters.append(found if isinstance(found, str) else "")
        operations = body.get("Operations")
        if (scim_request.method == "PATCH" and isinstance(operations, list)
                and len(operations) > MAX_PATCH_OPERATIONS):
            raise TooManyException(detail=f"A PATCH carries at most {MAX_PATCH_OPERATIONS} "
                                          "operations")
    for text in filters:
        if len(_OPERATOR.findall(_QUOTED.sub(" ", text or ""))) > MAX_FILTER_TERMS:
            raise TooManyException(detail=f"A filter holds at most {MAX_FILTER_TERMS} "
                                          "comparisons")


def _serve(scim_request: ScimRequest, request: HttpRequest) -> ScimResponse:
    operation = SERVICE.match(scim_request).operation
    if operation is Operation.service_provider_config:
        return ScimHandler(SERVICE, PortalScimStorage(_anonymous())).handle(scim_request)
    actor = _client(request)
    _check_cost(scim_request)
    scim_request.subject = actor
    return ScimHandler(SERVICE, PortalScimStorage(actor)).handle(scim_request)


def _anonymous() -> ClientSystem:
    """No client: the published configuration reads nothing."""
    return ClientSystem(client_id="", name="", organisation_id=None)


def _answer(response: ScimResponse) -> HttpResponse:
    body = b"" if response.body is None else json.dumps(response.body).encode()
    answer = HttpResponse(body, status=int(response.status))
    for key, value in response.headers.items():
        answer[key] = value
    answer.setdefault("Cache-Control", "no-store")
    return answer


@csrf_exempt
def scim_endpoint(request: HttpRequest, path: str) -> HttpResponse:
    """Every `/scim/v2/<path>` request: `/Users`, `/Groups` (search, create, read, replace,
    patch, delete; `.search` with POST), `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`
    (RFC 7644 §3.2, §4). Answers `application/scim+json`; refusals are SCIM errors (RFC 7644
    §3.12): 400 (`invalidFilter`, `invalidPath`, `invalidValue`, `invalidSyntax`, `mutability`,
    `tooMany`: `_check_cost`, ...), 401, 403, 404 (also for anything outside the client's
    organisation), 405, 409 (`uniqueness`), 412 (If-Match), 413 (a body over `MAX_BODY_BYTES`), 415, 501
    (`/Bulk`, `/Me`). A domain refusal that escapes the storage is mapped by `scim_error`, a
    deadlock PostgreSQL broke is 503; nothing answers 500 on purpose."""
    try:
        length = str(request.META.get("CONTENT_LENGTH") or "0")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise RequestDataTooBig()
        scim_request = _scim_request(request, path)
        if len(scim_request.body or b"") > MAX_BODY_BYTES:
            raise RequestDataTooBig()
        response = _serve(scim_request, request)
    except RequestDataTooBig:
        response = SERVICE.error_response(PayloadTooLargeException(
            detail=f"The body is larger than {MAX_BODY_BYTES} bytes"))
    except PortalError as exc:
        response = SERVICE.error_response(scim_error(exc))
    except SCIMException as exc:
        response = SERVICE.error_response(exc)
        if isinstance(exc, InsufficientScope):
            response.headers["WWW-Authenticate"] = CHALLENGE
    except Exception as exc:
        if is_lock_conflict(exc):  # PostgreSQL broke a deadlock: the request changed nothing
            response = SERVICE.error_response(SCIMException(
                status=503, detail="busy: the service is busy, try again in a moment"))
        else:  # a bug: logged with its traceback, answered as a SCIM 500
            logger.exception("SCIM request failed")
            response = SERVICE.error_response(exc)
    return _answer(response)

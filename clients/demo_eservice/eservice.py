#!/usr/bin/env python3
"""eservice: a demo e-service that logs its users in through the portal's OpenID Connect provider.

A separate small web app (Python's http.server; no Django), as an e-service of a care provider
would be: it is a confidential client of the portal, registered by the demo data
(`manage.py demo_data` writes its client ID and secret to `var/demo-eservice.json`, mode 0600).
It uses an independent OIDC library (Authlib's requests client; joserfc for JWTs):

1. `/login` sends the browser to the portal's authorization endpoint with `response_type=code`,
   `scope=openid profile`, `state`, `nonce` and an S256 PKCE challenge (RFC 7636);
2. `/callback` checks `state` and the RFC 9207 `iss`, redeems the code with the verifier and HTTP
   Basic client authentication, verifies the ID token with the portal's JWKS (OIDC Core 3.1.3.7:
   signature, `iss`, `aud`, `exp`, `nonce`), then calls the portal's protected API
   `/api/v1/oidc-demo/me` with the access token (RFC 6750 bearer) at every view of `/`;
3. `/` shows the ID token's claims and the API's answer;
4. its "Log out" button (POST `/logout`) forgets them here and sends the browser to the portal's
   `end_session_endpoint` (OIDC RP-Initiated Logout 1.0) with the ID token as `id_token_hint`,
   `post_logout_redirect_uri` (`/logged-out`, registered by the demo data) and `state`, which
   `/logged-out` checks when the portal sends the browser back.

Run: `.venv/bin/python clients/demo_eservice/eservice.py --config var/demo-eservice.json`
(`make run` starts it on http://127.0.0.1:8002/ when debug is on). Configuration keys: `issuer`,
`client_id`, `client_secret`, `redirect_uri` (its host and port are where this app listens; the
post-logout redirect URI is `/logged-out` there), `api` (the protected resource's URL).
"""

from __future__ import annotations

import argparse
import html
import json
import secrets
import threading
from http import cookies
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

COOKIE = "demo_eservice"
LOGGED_OUT_PATH = "/logged-out"
TIMEOUT_SECONDS = 10


class EService:
    """The e-service's state: its configuration, the portal's discovery document (read at the
    first login) and its users' sessions in memory (a demo: they end with the process)."""

    def __init__(self, config: dict[str, str]) -> None:
        self.config = config
        self.sessions: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self._discovery: dict[str, Any] | None = None

    @property
    def discovery(self) -> dict[str, Any]:
        if self._discovery is None:
            self._discovery = dict(requests.get(
                f"{self.config['issuer']}/.well-known/openid-configuration",
                timeout=TIMEOUT_SECONDS).json())
        return self._discovery

    @property
    def post_logout_redirect_uri(self) -> str:
        redirect = urlsplit(self.config["redirect_uri"])
        return f"{redirect.scheme}://{redirect.netloc}{LOGGED_OUT_PATH}"

    def oauth(self) -> OAuth2Session:
        return OAuth2Session(self.config["client_id"], self.config["client_secret"],
                             scope="openid profile", redirect_uri=self.config["redirect_uri"],
                             code_challenge_method="S256",
                             token_endpoint_auth_method="client_secret_basic")

    def start_login(self, session: dict[str, Any]) -> str:
        """The authorization request's URL; the verifier, state and nonce stay in `session`."""
        session["verifier"] = generate_token(48)
        session["nonce"] = generate_token(16)
        url, session["state"] = self.oauth().create_authorization_url(
            self.discovery["authorization_endpoint"], code_verifier=session["verifier"],
            nonce=session["nonce"])
        return str(url)

    def finish_login(self, session: dict[str, Any], query: dict[str, list[str]]) -> None:
        """Check the authorization response, redeem the code, verify the ID token and call the
        API. Raises ValueError with what went wrong."""
        expected_state = session.pop("state", None)
        if not expected_state or query.get("state") != [expected_state]:
            raise ValueError("The answer's state is not the one this e-service sent.")
        if query.get("iss") != [self.discovery["issuer"]]:  # RFC 9207 2.4
            raise ValueError("The answer does not come from the portal (iss).")
        if "error" in query:
            raise ValueError(f"The portal refused: {query['error'][0]}.")
        token = self.oauth().fetch_token(
            self.discovery["token_endpoint"], grant_type="authorization_code",
            code=query.get("code", [""])[0], code_verifier=session.pop("verifier", ""))
        keys = KeySet.import_key_set(requests.get(self.discovery["jwks_uri"],
                                                  timeout=TIMEOUT_SECONDS).json())
        try:
            id_token = jwt.decode(token["id_token"], keys, algorithms=["ES256", "RS256"])
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.discovery["issuer"]},
                aud={"essential": True, "value": self.config["client_id"]},
                exp={"essential": True}, nonce={"essential": True, "value": session["nonce"]},
            ).validate(id_token.claims)
        except JoseError as exc:
            raise ValueError(f"The ID token did not verify: {exc}") from exc
        session["claims"] = dict(id_token.claims)
        session["id_token"] = token["id_token"]
        session["access_token"] = token["access_token"]

    def call_api(self, session: dict[str, Any]) -> dict[str, Any]:
        """Call the portal's protected API with the session's access token, now (RFC 6750), so
        that a revocation at the portal shows at the next page view: {"status", "body"}."""
        answer = requests.get(self.config["api"], timeout=TIMEOUT_SECONDS,
                              headers={"Authorization": f"Bearer {session['access_token']}",
                                       "Accept-Language": "en"})  # this demo's language
        try:
            body: Any = answer.json()
        except ValueError:
            body = answer.text[:500]
        return {"status": answer.status_code, "body": body}

    def start_logout(self, session: dict[str, Any]) -> str:
        """Forget the login here and return the portal's logout URL (RP-Initiated Logout 1.0
        section 2); a new `state` stays in `session` for `finish_logout`."""
        id_token = session.get("id_token", "")
        session.clear()
        session["logout_state"] = generate_token(16)
        query = {"client_id": self.config["client_id"],
                 "post_logout_redirect_uri": self.post_logout_redirect_uri,
                 "state": session["logout_state"]}
        if id_token:
            query["id_token_hint"] = id_token
        return f"{self.discovery['end_session_endpoint']}?{urlencode(query)}"

    def finish_logout(self, session: dict[str, Any], query: dict[str, list[str]]) -> bool:
        """True when the portal sent the browser back with the `state` of `start_logout`
        (RP-Initiated Logout 1.0 section 3)."""
        expected = session.pop("logout_state", None)
        return bool(expected) and query.get("state") == [expected]


def page(title: str, body: str) -> bytes:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>"
            f"{body}</main></body></html>").encode()


def pretty(value: Any) -> str:
    return f"<pre>{html.escape(json.dumps(value, indent=2, ensure_ascii=False))}</pre>"


def handler_for(service: EService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def session(self) -> tuple[str, dict[str, Any]]:
            jar = cookies.SimpleCookie(self.headers.get("Cookie", ""))
            key = jar[COOKIE].value if COOKIE in jar else ""
            with service.lock:
                if key not in service.sessions:
                    key = secrets.token_urlsafe(32)
                    service.sessions[key] = {}
                return key, service.sessions[key]

        def answer(self, status: int, body: bytes = b"", *, key: str = "",
                   location: str = "") -> None:
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            if key:
                self.send_header("Set-Cookie", f"{COOKIE}={key}; HttpOnly; SameSite=Lax; Path=/")
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            key, session = self.session()
            parts = urlsplit(self.path)
            if parts.path == "/login":
                self.answer(302, key=key, location=service.start_login(session))
            elif parts.path == "/callback":
                try:
                    service.finish_login(session, parse_qs(parts.query))
                except Exception as exc:  # noqa: BLE001 (any failure is shown, never a crash)
                    self.answer(400, page("Login failed", f"<p>{html.escape(str(exc))}</p>"
                                          '<p><a href="/">Back</a></p>'), key=key)
                    return
                self.answer(302, key=key, location="/")
            elif parts.path == LOGGED_OUT_PATH:
                done = service.finish_logout(session, parse_qs(parts.query))
                text = ("You are logged out of the e-service and the portal." if done else
                        "You are logged out of the e-service.")
                self.answer(200, page("Logged out", f"<p>{text}</p>"
                                      '<p><a href="/">Back</a></p>'), key=key)
            elif parts.path == "/":
                api = service.call_api(session) if "claims" in session else None
                if api is not None and api["status"] == 401:  # revoked at the portal, or expired
                    for name in ("claims", "id_token", "access_token"):
                        session.pop(name, None)
                    body = ("<p>The portal no longer accepts this e-service's access token: it "
                            "was revoked (for example on the portal's <em>My e-services</em>) or "
                            "it expired (after 5 minutes).</p>" + pretty(api)
                            + '<p><a href="/login">Log in through the portal</a></p>')
                elif api is not None:
                    body = ("<h2>ID token claims</h2>" + pretty(session["claims"])
                            + "<h2>The portal's API, called with the access token just now"
                            "</h2><p>Reload this page after revoking the e-service on the "
                            "portal's <em>My e-services</em>: the answer becomes 401. The "
                            "access token also expires after 5 minutes.</p>"
                            + pretty(api)
                            + '<form method="post" action="/logout">'
                            '<button type="submit">Log out</button></form>')
                else:
                    body = ("<p>A demo e-service. It logs you in through the portal "
                            "(OpenID Connect, code flow with PKCE).</p>"
                            '<p><a href="/login">Log in through the portal</a></p>')
                self.answer(200, page("Demo e-service", body), key=key)
            else:
                self.answer(404, page("Not found", ""), key=key)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            key, session = self.session()
            if urlsplit(self.path).path == "/logout":
                self.answer(303, key=key, location=service.start_logout(session))
            else:
                self.answer(404, page("Not found", ""), key=key)

        def log_message(self, format: str, *args: Any) -> None:  # quiet beside runserver
            return

    return Handler


def serve(config: dict[str, str]) -> ThreadingHTTPServer:
    """A server for `config` on the host and port of its redirect URI (not yet serving)."""
    redirect = urlsplit(config["redirect_uri"])
    return ThreadingHTTPServer((redirect.hostname or "127.0.0.1", redirect.port or 80),
                               handler_for(EService(config)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("var/demo-eservice.json"))
    arguments = parser.parse_args()
    config = json.loads(arguments.config.read_text())
    server = serve(config)
    print(f"Demo e-service on {config['redirect_uri'].rsplit('/', 1)[0]}/")
    server.serve_forever()


if __name__ == "__main__":
    main()

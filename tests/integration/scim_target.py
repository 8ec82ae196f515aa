"""A real downstream SCIM system for the tests: scim2-server's CLI in a subprocess, started as `make run`
starts its local target (`apps.demo.scim_target.server_command`): the core User and Group schemas
(RFC 7643 §4), the enterprise extension (§4.3) and the portal's HSA extension, with a bearer token.

`ScimTarget.start()` / `.stop()` start and stop the process (its resources live in memory, so a
stop forgets them: a stop is a target that is down, not one that lost its data, unless the test
says so). `FaultyProxy` sits in front of it and answers what a troubled target answers: a given
status for the next requests (500, 429 with Retry-After) or a delay beyond the client's timeout.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scim2_server.utils import load_default_service_provider_config

from apps.demo.scim_target import server_command

TOKEN = "test-target-token"


def free_port() -> int:
    """A TCP port on 127.0.0.1 no one listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ScimTarget:
    """scim2-server on 127.0.0.1:`port` (a free one by default), base URL `url` (`.../v2`);
    announcing bulk support (RFC 7644 §3.7, scim2-server's default) unless `bulk` is False."""

    def __init__(self, folder: Path, port: int | None = None, *, bulk: bool = True) -> None:
        self.folder = folder
        self.bulk = bulk
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/v2"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start the server and wait until it answers (at most 20 s)."""
        log = (self.folder / "scim2-server.log").open("a")
        config = []
        if not self.bulk:  # announce no bulk support (RFC 7643 §5)
            described = load_default_service_provider_config().model_dump()
            described["bulk"] = {"supported": False, "maxOperations": 0, "maxPayloadSize": 0}
            config_file = self.folder / "service-provider-config.json"
            config_file.write_text(json.dumps(described))
            config = ["--service-provider-config", str(config_file)]
        self.process = subprocess.Popen(
            [*server_command(host="127.0.0.1", port=self.port, token=TOKEN,
                             directory=self.folder), *config],
            stdout=log, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if self.get("/ServiceProviderConfig")[0] == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"scim2-server did not start: {self.log()}")

    def stop(self) -> None:
        """Stop the server (it forgets its resources)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def log(self) -> str:
        return (self.folder / "scim2-server.log").read_text()

    def get(self, path: str) -> tuple[int, Any]:
        """GET `path` below the base URL with the token: (status, JSON body)."""
        return self.request("GET", path)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, f"/v2{path}",
                               body=None if body is None else json.dumps(body),
                               headers={"Authorization": f"Bearer {TOKEN}",
                                        "Content-Type": "application/scim+json"})
            response = connection.getresponse()
            data = response.read()
            return response.status, json.loads(data) if data else None
        finally:
            connection.close()

    def users(self) -> list[dict[str, Any]]:
        """Every User the target holds."""
        status, body = self.get("/Users?count=1000")
        assert status == 200, body
        return list(body.get("Resources", []))

    def user(self, external_id: str) -> dict[str, Any] | None:
        """The User whose externalId is `external_id`, or None."""
        found = [user for user in self.users() if user.get("externalId") == external_id]
        assert len(found) <= 1, found
        return found[0] if found else None

    def groups(self) -> list[dict[str, Any]]:
        status, body = self.get("/Groups?count=1000")
        assert status == 200, body
        return list(body.get("Resources", []))


class FaultyProxy:
    """An HTTP proxy on 127.0.0.1 in front of `target`, with faults set by the test:

    - `fail(status, times, headers)`: the next `times` requests (other than the discovery of
      `/ServiceProviderConfig`) are answered `status` with a SCIM
      error body (RFC 7644 §3.12) and `headers` (e.g. `Retry-After`), without reaching the target;
    - `delay(seconds, times)`: the next `times` requests wait `seconds` before being forwarded.

    `requests` counts (method, path) of what reached the target through it.
    """

    def __init__(self, target: ScimTarget) -> None:
        self.target = target
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v2"
        self.requests: list[tuple[str, str]] = []
        self._faults: list[tuple[str, Any, dict[str, str]]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                # Discovery (RFC 7644 §4) is answered as it is: the faults are the resources'.
                discovery = urlsplit(self.path).path.endswith("/ServiceProviderConfig")
                fault = None if discovery else proxy._next_fault()
                if fault is not None and fault[0] == "status":
                    payload = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                                          "status": str(fault[1]), "detail": "injected"}).encode()
                    self.send_response(fault[1])
                    for name, value in fault[2].items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/scim+json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if fault is not None:
                    time.sleep(fault[1])
                with proxy._lock:
                    proxy.requests.append((self.command, urlsplit(self.path).path))
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.target.port, timeout=30)
                try:
                    headers = {name: value for name, value in self.headers.items()
                               if name.lower() not in ("host", "connection")}
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                except OSError:
                    self.send_response(502)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                finally:
                    upstream.close()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _next_fault(self) -> tuple[str, Any, dict[str, str]] | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def fail(self, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._faults += [("status", status, headers or {})] * times

    def delay(self, seconds: float, times: int = 1) -> None:
        with self._lock:
            self._faults += [("delay", seconds, {})] * times

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

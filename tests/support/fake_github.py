"""A fake GitHub REST API on 127.0.0.1 for the alert relay's tests: real HTTP, recorded requests.

`fake_github(statuses)` starts it on a free port and yields it; each request is recorded (method,
path, headers with lower-case names, parsed JSON body) and answered with the next scripted status
(then 204, what `POST /repos/{owner}/{repo}/dispatches` answers on success). A status given as (code, headers)
adds response headers, e.g. (429, {"Retry-After": "0"}). The same server answers Secrets Manager's
GetSecretValue (`X-Amz-Target: secretsmanager.GetSecretValue`) from `secrets`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Status = int | tuple[int, dict[str, str]]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def dispatches(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/dispatches")]


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            with fake.lock:
                fake.requests.append(
                    Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                target = self.headers.get("X-Amz-Target", "")
                status: Status = fake.statuses.pop(0) if fake.statuses else 204
            if target == "secretsmanager.GetSecretValue":
                secret = fake.secrets.get(body.get("SecretId", "")) if isinstance(body, dict) else None
                code, data = (200, {"SecretString": secret}) if secret else (400, {"__type": "NotFound"})
                self._answer(code, json.dumps(data).encode(), {})
                return
            code, headers = status if isinstance(status, tuple) else (status, {})
            self._answer(code, b"" if code == 204 else b'{"message": "scripted"}', headers)

        def _answer(self, code: int, data: bytes, headers: Mapping[str, str]) -> None:
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def fake_github(
    statuses: Sequence[Status] = (), secrets: Mapping[str, str] | None = None
) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(url="", statuses=list(statuses), secrets=dict(secrets or {}))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

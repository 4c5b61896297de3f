"""gate/github/api.py: the one GET the gate's commands make on GitHub, against a local server."""

from __future__ import annotations

import json
import threading
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest

from gate.github import api as githubapi
from gate.promotion import changelog
from gate.promotion.outside import DeliveryRefused, RestGitHub


class _Api(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_GET(self) -> None:
        type(self).seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        if self.path.startswith("/repos/acme/aos/contents/"):
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps({"ok": True, "path": self.path}).encode()
        self.send_response(500 if "broken" in self.path else 200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api_url() -> Iterator[str]:
    _Api.seen = []
    server = HTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_get_sends_the_token_and_githubs_headers_and_decodes_json(api_url: str) -> None:
    assert githubapi.get_json(api_url + "/", "t0ken", "/repos/acme/aos") == {
        "ok": True,
        "path": "/repos/acme/aos",
    }
    (seen,) = _Api.seen
    assert seen["authorization"] == "Bearer t0ken"
    assert seen["accept"] == "application/vnd.github+json"
    assert seen["x-github-api-version"] == githubapi.API_VERSION


def test_each_caller_says_what_an_http_error_means(api_url: str) -> None:
    with pytest.raises(urllib.error.HTTPError):
        githubapi.get_json(api_url, "t", "repos/broken")
    # gate deploy refuses (exit 2) on any error; gate changelog reads a missing file as none.
    assert RestGitHub("t", api_url).get("repos/acme/aos")["ok"] is True
    with pytest.raises(DeliveryRefused, match="HTTP 500"):
        RestGitHub("t", api_url).get("repos/broken")
    assert changelog.RestSource("t", api_url).file("acme/aos", "DEPLOYMENTS.md", "delivery-log") is None
    with pytest.raises(changelog.ChangeLogError, match="500"):
        changelog.RestSource("t", api_url).deployments("acme/broken", "production", "changelog")

"""The HTTP server, on a free local port."""

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from app import model, server


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    httpd = server.make_server("127.0.0.1", 0)
    thread = threading.Thread(
        target=httpd.serve_forever,
        kwargs={"poll_interval": 0.05},
        daemon=True,
    )
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def get(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_healthz(base_url: str) -> None:
    assert get(base_url + "/healthz") == (200, {"status": "ok"})


def test_trace_is_the_models(base_url: str) -> None:
    status, body = get(base_url + "/api/trace?seed=2&steps=3")
    assert status == 200
    assert body == model.trace(2, 3)


@pytest.mark.parametrize("query", ["", "?seed=x", "?seed=1&steps=0"])
def test_bad_requests(base_url: str, query: str) -> None:
    status, body = get(base_url + "/api/trace" + query)
    assert status == 400
    assert "error" in str(body)


def test_unknown_path(base_url: str) -> None:
    assert get(base_url + "/nope")[0] == 404

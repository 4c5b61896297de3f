"""One GET on the GitHub REST API, for the gate's commands that read GitHub (gate deploy's run
verification, gate changelog, gate evaluate): the headers GitHub documents for its REST API, a
bounded timeout, and the decoded JSON. Callers decide what an HTTP error means to them."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

API_VERSION = "2022-11-28"
TIMEOUT_SECONDS = 30


def get_json(api_url: str, token: str, path: str) -> Any:
    """GET `<api_url>/<path>` with the token; raises urllib's HTTPError / URLError as they come."""
    request = urllib.request.Request(
        f"{api_url.rstrip('/')}/{path.lstrip('/')}",
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        },
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        return json.loads(response.read().decode("utf-8"))

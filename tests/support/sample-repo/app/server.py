"""The aos service: a tiny HTTP server over the model.

    GET /healthz                     {"status": "ok"}
    GET /api/trace?seed=N[&steps=M]  the trace the model computes

Run it with `python -m app.server [--host H] [--port P]`.
"""

import argparse
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from app import model

TraceFunction = Callable[[int, int], model.Trace]
MAX_SEED = 2**31 - 1


def _integer(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    if not values[0].isdigit():
        raise ValueError(f"{name} must be a non-negative integer")
    return int(values[0])


def make_server(
    host: str,
    port: int,
    *,
    trace: TraceFunction = model.trace,
    delay: float = 0.0,
) -> ThreadingHTTPServer:
    """The server, bound; `trace` and `delay` let tests inject faults."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if delay:
                time.sleep(delay)
            url = urlsplit(self.path)
            if url.path == "/healthz":
                self.reply(200, {"status": "ok"})
            elif url.path == "/api/trace":
                self.send_trace(parse_qs(url.query))
            else:
                self.reply(404, {"error": f"no route for {url.path}"})

        def send_trace(self, query: dict[str, list[str]]) -> None:
            try:
                seed = _integer(query, "seed", -1)
                steps = _integer(query, "steps", 5)
                if not 0 <= seed <= MAX_SEED:
                    raise ValueError(f"seed must be within 0..{MAX_SEED}")
                body = trace(seed, steps)
            except ValueError as error:
                self.reply(400, {"error": str(error)})
            else:
                self.reply(200, body)

        def reply(self, status: int, body: object) -> None:
            data = model.canonical_bytes(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the platform measures requests, not the logs."""

    return ThreadingHTTPServer((host, port), Handler)


def serve(server: ThreadingHTTPServer) -> None:
    host, port = server.server_address[:2]
    print(f"listening on http://{host!s}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    serve(make_server(args.host, args.port))


if __name__ == "__main__":
    main()

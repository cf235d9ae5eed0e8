"""The sandbox's HTTP front: the approval pages on one port, and the control API the CLI asks."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def serve_approval_pages(port: int, page_ports: dict[str, int]) -> ThreadingHTTPServer:
    """The approval pages on one port: /stg/... and /prd/... reach that env's page (its Function
    URL in AWS), with the prefix removed, as the function sees its own URL's path."""
    ports = page_ports

    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            env, _, rest = self.path.lstrip("/").partition("/")
            if env not in ports:
                self.send_error(404, "no approval page here: the paths are /stg/ and /prd/")
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            request = urllib.request.Request(
                f"http://127.0.0.1:{ports[env]}/{rest}", data=body, headers=headers, method=self.command
            )
            try:
                response = urllib.request.urlopen(request, timeout=60)  # noqa: S310 - our 127.0.0.1
            except urllib.error.HTTPError as error:
                response = error
            except OSError as error:
                self.send_error(502, f"the {env} approval page does not answer: {error}")
                return
            with response:
                payload = response.read()
                self.send_response(response.status)
                for key, value in response.headers.items():
                    if key.lower() not in (
                        "connection",
                        "transfer-encoding",
                        "content-length",
                        "date",
                        "server",
                    ):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = _forward

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Front)
    threading.Thread(target=server.serve_forever, name="approvals", daemon=True).start()
    return server


def serve_control(
    port: int,
    status: Callable[[], dict[str, Any]],
    reconfigure: Callable[[], dict[str, Any]],
    *,
    chaos: Callable[[str], dict[str, Any]] | None = None,
    invoke: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> ThreadingHTTPServer:
    """GET /status answers `status()` as JSON: what `path2prod local status` and `wait_idle` read.
    POST /reconfigure runs `reconfigure()`: sandbox.json changed (a stack parameter), apply it.
    POST /chaos {"chaos": SPEC} runs `chaos(SPEC)` (`path2prod local chaos`); a bad SPEC is a 400.
    POST /invoke runs `invoke(body)` with its JSON body {"env", "function", "event"}: a function's handler
    run once, synchronously (`path2prod dlq redrive`)."""

    class ControlHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/status":
                self.send_error(404)
                return
            self._answer(status())

        def do_POST(self) -> None:
            if self.path == "/chaos" and chaos is not None:
                self._chaos(chaos)
                return
            if self.path == "/invoke" and invoke is not None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length)) if length else None
                except ValueError:
                    body = None
                if not isinstance(body, dict) or not {"env", "function", "event"} <= set(body):
                    self.send_error(400, 'the body is JSON: {"env", "function", "event"}')
                    return
                self._answer(invoke(body))
                return
            if self.path != "/reconfigure":
                self.send_error(404)
                return
            self._answer(reconfigure())

        def _chaos(self, apply: Callable[[str], dict[str, Any]]) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                spec = json.loads(self.rfile.read(length) or b"{}").get("chaos", "")
                self._answer(apply(str(spec)))
            except (ValueError, AttributeError) as error:
                self._answer({"error": str(error)}, code=400)

        def _answer(self, answer: dict[str, Any], code: int = 200) -> None:
            body = json.dumps(answer, default=str).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), ControlHandler)
    threading.Thread(target=server.serve_forever, name="control", daemon=True).start()
    return server

"""A Lambda Function URL in the sandbox: an HTTP server on 127.0.0.1 in front of one handler.

Each HTTP request becomes the event a function URL sends (payload format 2.0, as AWS documents it in
"Invoking Lambda function URLs"), and the handler's answer becomes the HTTP response, as a function URL
turns it: a dict with `statusCode` gives the status, headers, cookies and body (base64-decoded when
`isBase64Encoded`); anything else is a 200 with its JSON; a handler that raises is a 502. Like AWS, a
body that is not text (not text/*, JSON or XML: a urlencoded form, say) reaches the handler base64-encoded.

One port per function: the sandbox gives each env's page its own. Requests are served by threads, but
the handler is called by one at a time, as one Lambda execution environment takes one request at a time
(Powertools' resolver keeps the current event in module state).

Run by the daemon:  python -m path2prod.sandbox.function_url CODE_DIR HANDLER PORT
with the function's environment (AWS_ENDPOINT_URL, credentials of the function's own role, its settings)
set.
It prints "listening on http://127.0.0.1:PORT" once it accepts requests (PORT 0 picks a free port).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import threading
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from path2prod.sandbox.lambda_runtime import SandboxLambdaContext, load_handler, poller_credentials

MAX_BODY = 6 * 1024 * 1024  # a function URL's request payload quota
# Bodies a function URL passes as text; any other content type arrives base64-encoded.
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")

Handler = Callable[[dict[str, Any], Any], Any]


def function_url_event(
    method: str,
    target: str,
    headers: Message,
    body: bytes,
    *,
    source_ip: str,
    host: str,
    account: str,
    now: datetime,
) -> dict[str, Any]:
    """The function URL event (payload format 2.0) of one HTTP request."""
    split = urlsplit(target)
    path = split.path or "/"
    lowered: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers.items():
        key = name.lower()
        if key == "cookie":  # a function URL moves cookies out of the headers into `cookies`
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        else:
            lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    lowered.setdefault("host", host)
    lowered.setdefault("x-forwarded-for", source_ip)
    lowered.setdefault("x-forwarded-proto", "http")
    prefix = host.split(".")[0].split(":")[0]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": split.query,
        "headers": lowered,
        "requestContext": {
            "accountId": account,
            "apiId": prefix,
            "domainName": host,
            "domainPrefix": prefix,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if split.query:
        parameters: dict[str, str] = {}
        for name, value in parse_qsl(split.query, keep_blank_values=True):
            # Repeated parameters are joined with commas, as payload format 2.0 does.
            parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
        event["queryStringParameters"] = parameters
    if body:
        content_type = lowered.get("content-type", "").lower()
        try:
            if not content_type.startswith(TEXT_TYPES):
                raise ValueError("not a text body")
            event["body"] = body.decode("utf-8")
        except ValueError:  # UnicodeDecodeError too
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def http_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of what the handler returned, as a function URL reads it."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return 200, [("Content-Type", "application/json")], json.dumps(result).encode("utf-8")
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    headers += [("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or []]
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        content = base64.b64decode(body)
    else:
        content = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
    return int(result["statusCode"]), headers, content


class FunctionUrlServer(ThreadingHTTPServer):
    """Serves one handler on 127.0.0.1, one invocation at a time."""

    daemon_threads = True

    def __init__(self, port: int, handler: Handler, *, account: str, function_name: str, region: str) -> None:
        super().__init__(("127.0.0.1", port), _FunctionUrlRequest)
        self.handler = handler
        self.account = account
        self.function_name = function_name
        self.region = region
        self.invocation = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def invoke(self, event: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        context = SandboxLambdaContext(
            function_name=self.function_name,
            invoked_function_arn=f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}",
            aws_request_id=str(uuid.uuid4()),
        )
        with self.invocation:
            try:
                result = self.handler(event, context)
            except Exception:
                # As a function URL does: the error goes to the function's log, the caller gets a 502.
                print(traceback.format_exc(), file=sys.stderr, flush=True)
                return 502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}'
        return http_response(result)


class _FunctionUrlRequest(BaseHTTPRequestHandler):
    server: FunctionUrlServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(413, [("Content-Type", "application/json")], b'{"Message":"Request Too Long"}')
            return
        body = self.rfile.read(length) if length else b""
        event = function_url_event(
            self.command,
            self.path,
            self.headers,
            body,
            source_ip=self.client_address[0],
            host=self.headers.get("Host") or self.server.url.removeprefix("http://"),
            account=self.server.account,
            now=datetime.now(UTC),
        )
        self._send(*self.server.invoke(event))

    # The methods a function URL accepts; others get http.server's 501.
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if self.command == "HEAD":
            # Never a body; and no Content-Length unless the handler's body says what a GET would send
            # (a HEAD's Content-Length must be the GET's, which an empty body would misstate).
            if body:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Without the query string: an approval link's query holds its token, a credential.
        path = urlsplit(self.path).path
        self.log_message('"%s %s" %s', self.command, path, str(code))


def main() -> None:
    code_dir, handler_name, port = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    poller_credentials()  # a function URL polls nothing: the operator's keys just leave the environment
    handler = load_handler(code_dir, handler_name)
    server = FunctionUrlServer(
        port,
        handler,
        account=os.environ["SANDBOX_ACCOUNT_ID"],
        function_name=os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        region=os.environ["AWS_DEFAULT_REGION"],
    )

    def stop(*_: Any) -> None:
        # shutdown() waits for serve_forever to return, so it cannot run on serve_forever's own thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

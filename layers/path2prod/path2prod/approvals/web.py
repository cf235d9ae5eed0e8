"""The approval page over HTTP: its routes, reading the posted form, and answers as status codes.

Mail scanners and link previews fetch links, so showing a request never changes it: an approver decides
by posting the page's form. Every refusal the approvals rules raise (ApprovalError) becomes an HTML page
with its status in one place, `refused`; anything unexpected is logged and becomes a 500 page.
The function's handler (functions/approval_page/app.py) builds this router once and resolves events.

Why not Powertools' event_handler (the team's rule is to prefer the library): importing any of it runs
the package's `__init__`, which imports every resolver (API Gateway, AppSync, Bedrock, VPC Lattice...)
and its data classes: about 40 ms of CPU, a fifth of a bare `import boto3`, and the reason the page
imported in 1.74-1.78x boto3 against a bar of 1.5x (1.44-1.55x without it: docs/benchmarks.md, "Cold
import"). Importing only `event_handler.lambda_function_url` costs the same, since Python runs the
package's `__init__` first.
The page has one path and three methods, so `PageRouter` below does what the resolver did for it, answer
for answer: the same status codes, headers (no cookies) and bodies, in the same response shape
(statusCode, body, isBase64Encoded, headers, cookies), the same event fields read the same way, errors
mapped by the same class lookup (the first handler along the error's MRO), and a malformed event (no
requestContext, say) raising out of `resolve` as it did. Logger, Metrics and Tracer stay Powertools'.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from aws_lambda_powertools.metrics import MetricUnit  # loaded with Metrics anyway

from path2prod.approvals.page import (
    PAGE_HEADERS,
    REASON_MAX_LENGTH,
    confirmation_page,
    error_page,
    outcome_page,
)
from path2prod.domain.approvals import Verdict
from path2prod.domain.errors import ApprovalError, BadToken, UnsupportedMediaType

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from path2prod.approvals.answering import LinkAnswerer

DECISIONS = {"approve": Verdict.APPROVE, "reject": Verdict.REJECT}
METHODS = ("GET", "HEAD", "POST")
MAX_FORM_FIELDS = 10
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
# The page's one path, matched as Powertools matched a route's rule: `^/$`, which also takes "/\n".
_PAGE_PATH = re.compile("^/$")


@dataclass(frozen=True)
class PageRequest:
    """What the page reads of a Function URL event (payload format 2.0), read as Powertools'
    LambdaFunctionUrlEvent reads it."""

    event: Mapping[str, Any]

    @property
    def method(self) -> str:
        """The HTTP method, upper-cased (a route's method is matched as a plain string)."""
        method: str = self.event["requestContext"]["http"]["method"].upper()
        return method

    @property
    def path(self) -> str:
        """The path, without the stage's prefix (a Function URL's stage is always `$default`)."""
        stage = self.event["requestContext"]["stage"]
        raw_path: str = self.event["rawPath"]
        return raw_path[len("/" + stage) :] if stage != "$default" else raw_path

    def query(self, name: str) -> str | None:
        """A query string parameter (the last one, when sent twice: Function URLs join them with commas)."""
        value: str | None = (self.event.get("queryStringParameters") or {}).get(name)
        return value

    def header(self, name: str) -> str | None:
        """A request header, by name in any case (Function URLs send them lower-cased)."""
        found = None
        for key, value in (self.event.get("headers") or {}).items():
            if key.lower() == name.lower():
                found = value  # the last one wins, as in a case-insensitive dict built from them
        return found

    @property
    def decoded_body(self) -> str | None:
        """The body as text (Function URLs base64-encode form bodies); ValueError if it cannot be."""
        body: str | None = self.event.get("body")
        if self.event.get("isBase64Encoded") and body:
            return base64.b64decode(body.encode()).decode()
        return body


class PageRouter:
    """The page's routes: GET and HEAD show a link's request, POST answers it, any other method on the
    page is a 405 and any other path a 404; every answer is an HTML page with PAGE_HEADERS."""

    def __init__(self, approvals: Callable[[], LinkAnswerer], *, logger: Logger, metrics: Metrics) -> None:
        self.approvals, self.logger, self.metrics = approvals, logger, metrics

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        """The Function URL's response to `event` (a malformed event raises, as Powertools' did)."""
        request = PageRequest(event)
        method, path = request.method, request.path
        try:
            if _PAGE_PATH.match(path) and method in ("GET", "HEAD"):
                return self.show(request)
            if _PAGE_PATH.match(path) and method == "POST":
                return self.answer(request)
            return self.no_route(request, path)
        except ApprovalError as error:
            return self.refused(request, error)
        except Exception as error:  # the one place an unexpected error becomes a 500 page
            return self.failed(request, error, context)

    def show(self, request: PageRequest) -> dict[str, Any]:
        token = request.query("t")
        if not token:
            raise BadToken("this link has no token: open the link from your email exactly as it was sent")
        wired = self.approvals()
        view = wired.show_link(token)
        self.metrics.add_metric(name="LinkShown", unit=MetricUnit.Count, value=1)
        return page(request, 200, confirmation_page(view, token, wired.clock()))

    def answer(self, request: PageRequest) -> dict[str, Any]:
        require_form(request.header("content-type"))
        form = posted_form(request)
        token = field(form, "t") or request.query("t")
        if not token:
            raise BadToken("the answer carries no token: answer from the page your link opens")
        verdict = DECISIONS.get(field(form, "decision") or "")
        if verdict is None:
            raise ApprovalError("the form's decision must be approve or reject")
        reason = (field(form, "reason") or "").strip() or None
        if reason is not None and len(reason) > REASON_MAX_LENGTH:
            raise ApprovalError(f"the reason is longer than {REASON_MAX_LENGTH} characters")
        answered = self.approvals().answer_link(token, verdict, reason=reason)
        # answer_link returns the request as this answer stored it: the answer is its last decision.
        approver = answered.decisions[-1].approver
        self.metrics.add_metric(name=f"Answer{verdict.value.title()}", unit=MetricUnit.Count, value=1)
        outcome = {"request_id": answered.id, "approver": approver, "verdict": verdict.value}
        self.logger.info("answer recorded", extra={**outcome, "state": answered.state.value})
        return page(request, 200, outcome_page(answered, approver))

    def no_route(self, request: PageRequest, path: str) -> dict[str, Any]:
        self.metrics.add_metric(name="NotRouted", unit=MetricUnit.Count, value=1)
        if path == "/":
            status, message = 405, f"this page answers {', '.join(METHODS)} only"
            return page(request, status, error_page(status, message), Allow=", ".join(METHODS))
        return page(request, 404, error_page(404, "there is no such page: open the link from your email"))

    def refused(self, request: PageRequest, error: ApprovalError) -> dict[str, Any]:
        self.metrics.add_metric(name=f"Refused{error.status}", unit=MetricUnit.Count, value=1)
        self.logger.info("request refused", extra={"status": error.status, "error": type(error).__name__})
        return page(request, error.status, error_page(error.status, str(error)))

    def failed(self, request: PageRequest, error: Exception, context: LambdaContext) -> dict[str, Any]:
        # Never the traceback in the page (whatever POWERTOOLS_DEV says): it goes to the log only.
        self.logger.exception("the approval page failed")
        self.metrics.add_metric(name="Failed", unit=MetricUnit.Count, value=1)
        message = (
            "path2prod could not handle this request; nothing was decided. "
            f"The error is logged as request {context.aws_request_id}."
        )
        return page(request, 500, error_page(500, message))


def page_router(approvals: Callable[[], LinkAnswerer], *, logger: Logger, metrics: Metrics) -> PageRouter:
    """The page's router; `approvals` is called on each request (the handler caches what it returns).

    `logger` and `metrics` are the handler's Powertools Logger and Metrics, so what the routes log and
    count is flushed with the invocation.
    """
    return PageRouter(approvals, logger=logger, metrics=metrics)


def page(request: PageRequest, status: int, html: str, **headers: str) -> dict[str, Any]:
    """An HTML response with the page's security headers; a HEAD gets the same without the body.
    The shape is Powertools' for a Function URL (format 2.0): the same keys, in the same order."""
    body = "" if request.method == "HEAD" else html
    return {
        "statusCode": status,
        "body": body,
        "isBase64Encoded": False,
        "headers": {**PAGE_HEADERS, **headers},
        "cookies": [],
    }


def require_form(content_type: str | None) -> None:
    """Refuse (415) a POST that is not the page's urlencoded form: one way to answer, the one the page's
    forms use. Anything else (JSON, multipart, text, none) is parsed by nobody."""
    media_type, *parameters = (content_type or "").split(";")
    if (
        media_type.strip().lower() != FORM_MEDIA_TYPE
        or any(_parameter(parameter) != ("charset", "utf-8") for parameter in parameters)
        or len(parameters) > 1
    ):
        raise UnsupportedMediaType(f"answers are posted as {FORM_MEDIA_TYPE}: answer from the page's form")


def _parameter(parameter: str) -> tuple[str, str]:
    name, _, value = parameter.partition("=")
    return name.strip().lower(), value.strip().strip('"').lower()


def posted_form(request: PageRequest) -> dict[str, list[str]]:
    """The urlencoded form of a POST (Function URLs base64-encode form bodies: the request decodes)."""
    try:
        body = request.decoded_body or ""
        return parse_qs(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # base64, UTF-8 and too many fields all raise a ValueError
        raise ApprovalError("the form could not be read") from None


def field(form: dict[str, list[str]], name: str) -> str | None:
    """One form field's value; sent twice is refused (which one would count?)."""
    values = form.get(name, [])
    if len(values) > 1:
        raise ApprovalError(f"the form sent {name} {len(values)} times")
    return values[0] if values else None

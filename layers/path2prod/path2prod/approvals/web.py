"""The approval page over HTTP: its routes, reading the posted form, and answers as status codes.

Mail scanners and link previews fetch links, so showing a request never changes it: an approver decides
by posting the page's form. Every refusal the approvals rules raise (ApprovalError) becomes an HTML page
with its status in one place, `refused`; anything unexpected is logged and becomes a 500 page.
The function's handler (functions/approval_page/app.py) builds this resolver once and resolves events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit

from path2prod.approvals.answering import LinkAnswerer
from path2prod.approvals.page import (
    PAGE_HEADERS,
    REASON_MAX_LENGTH,
    confirmation_page,
    error_page,
    outcome_page,
)
from path2prod.domain.approvals import Verdict
from path2prod.domain.errors import ApprovalError, BadToken, UnsupportedMediaType

DECISIONS = {"approve": Verdict.APPROVE, "reject": Verdict.REJECT}
METHODS = ("GET", "HEAD", "POST")
MAX_FORM_FIELDS = 10
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


def page_resolver(
    approvals: Callable[[], LinkAnswerer], *, logger: Any, metrics: Any
) -> LambdaFunctionUrlResolver:
    """The page's resolver; `approvals` is called on each request (the handler caches what it returns).

    `logger` and `metrics` are the handler's Powertools Logger and Metrics, so what the routes log and
    count is flushed with the invocation.
    """
    # debug=False whatever POWERTOOLS_DEV says: debug mode would answer an unhandled error with its traceback.
    app = LambdaFunctionUrlResolver(debug=False)

    def page(status: int, html: str, **headers: str) -> Response[str]:
        """An HTML response with the page's security headers; a HEAD gets the same without the body."""
        body = "" if app.current_event.http_method.upper() == "HEAD" else html
        return Response(status_code=status, headers={**PAGE_HEADERS, **headers}, body=body)

    # HEAD is routed by Powertools like any method (a route's method is matched as a plain string), so
    # it shares GET's route, status and headers; `page` leaves the body out.
    @app.route("/", method=["GET", "HEAD"])
    def show() -> Response[str]:
        token = app.current_event.get_query_string_value("t")
        if not token:
            raise BadToken("this link has no token: open the link from your email exactly as it was sent")
        wired = approvals()
        view = wired.show_link(token)
        metrics.add_metric(name="LinkShown", unit=MetricUnit.Count, value=1)
        return page(200, confirmation_page(view, token, wired.clock()))

    @app.post("/")
    def answer() -> Response[str]:
        require_form(app.current_event.headers.get("content-type"))
        form = posted_form(app.current_event)
        token = field(form, "t") or app.current_event.get_query_string_value("t")
        if not token:
            raise BadToken("the answer carries no token: answer from the page your link opens")
        verdict = DECISIONS.get(field(form, "decision") or "")
        if verdict is None:
            raise ApprovalError("the form's decision must be approve or reject")
        reason = (field(form, "reason") or "").strip() or None
        if reason is not None and len(reason) > REASON_MAX_LENGTH:
            raise ApprovalError(f"the reason is longer than {REASON_MAX_LENGTH} characters")
        request = approvals().answer_link(token, verdict, reason=reason)
        # answer_link returns the request as this answer stored it: the answer is its last decision.
        approver = request.decisions[-1].approver
        metrics.add_metric(name=f"Answer{verdict.value.title()}", unit=MetricUnit.Count, value=1)
        outcome = {"request_id": request.id, "approver": approver, "verdict": verdict.value}
        logger.info("answer recorded", extra={**outcome, "state": request.state.value})
        return page(200, outcome_page(request, approver))

    @app.exception_handler(ApprovalError)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
    def refused(error: ApprovalError) -> Response[str]:
        metrics.add_metric(name=f"Refused{error.status}", unit=MetricUnit.Count, value=1)
        logger.info("request refused", extra={"status": error.status, "error": type(error).__name__})
        return page(error.status, error_page(error.status, str(error)))

    @app.not_found
    def no_route(_: NotFoundError) -> Response[str]:
        metrics.add_metric(name="NotRouted", unit=MetricUnit.Count, value=1)
        if app.current_event.path == "/":
            status, message = 405, f"this page answers {', '.join(METHODS)} only"
            return page(status, error_page(status, message), Allow=", ".join(METHODS))
        return page(404, error_page(404, "there is no such page: open the link from your email"))

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def failed(error: Exception) -> Response[str]:
        logger.exception("the approval page failed")
        metrics.add_metric(name="Failed", unit=MetricUnit.Count, value=1)
        message = (
            "path2prod could not handle this request; nothing was decided. "
            f"The error is logged as request {app.lambda_context.aws_request_id}."
        )
        return page(500, error_page(500, message))

    return app


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


def posted_form(event: Any) -> dict[str, list[str]]:
    """The urlencoded form of a POST (Function URLs base64-encode form bodies: the event decodes)."""
    try:
        body = event.decoded_body or ""
        return parse_qs(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # base64, UTF-8 and too many fields all raise a ValueError
        raise ApprovalError("the form could not be read") from None


def field(form: dict[str, list[str]], name: str) -> str | None:
    """One form field's value; sent twice is refused (which one would count?)."""
    values = form.get(name, [])
    if len(values) > 1:
        raise ApprovalError(f"the form sent {name} {len(values)} times")
    return values[0] if values else None

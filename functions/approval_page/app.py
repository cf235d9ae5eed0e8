"""approval page: the Function URL that approvers' links open. GET and HEAD show, only a POST decides.

Mail scanners and link previews fetch links, so showing a request never changes it: an approver decides
by posting the page's form. Every refusal the approvals rules raise (ApprovalError) becomes an HTML page
with its status in one place, `refused`; anything unexpected is logged and becomes a 500 page.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from path2prod.approvals import wiring
from path2prod.approvals.page import (
    PAGE_HEADERS,
    REASON_MAX_LENGTH,
    confirmation_page,
    error_page,
    outcome_page,
)
from path2prod.approvals.service import Approvals, answer_link, show_link
from path2prod.domain.approvals import ApprovalError, BadToken, Verdict

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])
metrics = Metrics()
# debug=False whatever POWERTOOLS_DEV says: debug mode would answer an unhandled error with its traceback.
app = LambdaFunctionUrlResolver(debug=False)

DECISIONS = {"approve": Verdict.APPROVE, "reject": Verdict.REJECT}
METHODS = ("GET", "HEAD", "POST")
MAX_FORM_FIELDS = 10


@cache
def approvals() -> Approvals:
    """Built on the first request, not at import: settings are read once, clients made lazily."""
    return wiring.page()


# HEAD is routed by Powertools like any method (a route's method is matched as a plain string), so it
# shares GET's route, status and headers; `_page` leaves the body out.
@app.route("/", method=["GET", "HEAD"])
def show() -> Response[str]:
    token = app.current_event.get_query_string_value("t")
    if not token:
        raise BadToken("this link has no token: open the link from your email exactly as it was sent")
    view = show_link(token, approvals())
    metrics.add_metric(name="LinkShown", unit=MetricUnit.Count, value=1)
    return _page(200, confirmation_page(view, token, approvals().clock()))


@app.post("/")
def answer() -> Response[str]:
    form = _posted_form()
    token = _field(form, "t") or app.current_event.get_query_string_value("t")
    if not token:
        raise BadToken("the answer carries no token: answer from the page your link opens")
    verdict = DECISIONS.get(_field(form, "decision") or "")
    if verdict is None:
        raise ApprovalError("the form's decision must be approve or reject")
    reason = (_field(form, "reason") or "").strip() or None
    if reason is not None and len(reason) > REASON_MAX_LENGTH:
        raise ApprovalError(f"the reason is longer than {REASON_MAX_LENGTH} characters")
    request = answer_link(token, verdict, approvals(), reason=reason)
    # answer_link returns the request as this answer stored it: the answer is its last decision.
    approver = request.decisions[-1].approver
    metrics.add_metric(name=f"Answer{verdict.value.title()}", unit=MetricUnit.Count, value=1)
    outcome = {"request_id": request.id, "approver": approver, "verdict": verdict.value}
    logger.info("answer recorded", extra={**outcome, "state": request.state.value})
    return _page(200, outcome_page(request, approver))


@app.exception_handler(ApprovalError)
def refused(error: ApprovalError) -> Response[str]:
    metrics.add_metric(name=f"Refused{error.status}", unit=MetricUnit.Count, value=1)
    logger.info("request refused", extra={"status": error.status, "error": type(error).__name__})
    return _page(error.status, error_page(error.status, str(error)))


@app.not_found
def no_route(_: NotFoundError) -> Response[str]:
    metrics.add_metric(name="NotRouted", unit=MetricUnit.Count, value=1)
    if app.current_event.path == "/":
        status, message = 405, f"this page answers {', '.join(METHODS)} only"
        return _page(status, error_page(status, message), Allow=", ".join(METHODS))
    return _page(404, error_page(404, "there is no such page: open the link from your email"))


@app.exception_handler(Exception)
def failed(error: Exception) -> Response[str]:
    logger.exception("the approval page failed")
    metrics.add_metric(name="Failed", unit=MetricUnit.Count, value=1)
    message = (
        "path2prod could not handle this request; nothing was decided. "
        f"The error is logged as request {app.lambda_context.aws_request_id}."
    )
    return _page(500, error_page(500, message))


def _page(status: int, html: str, **headers: str) -> Response[str]:
    """An HTML response with the page's security headers; a HEAD gets the same without the body."""
    body = "" if app.current_event.http_method.upper() == "HEAD" else html
    return Response(status_code=status, headers={**PAGE_HEADERS, **headers}, body=body)


def _posted_form() -> dict[str, list[str]]:
    """The urlencoded form of a POST (Function URLs base64-encode form bodies: the resolver decodes)."""
    try:
        body = app.current_event.decoded_body or ""
        return parse_qs(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # base64, UTF-8 and too many fields all raise a ValueError
        raise ApprovalError("the form could not be read") from None


def _field(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name, [])
    if len(values) > 1:
        raise ApprovalError(f"the form sent {name} {len(values)} times")
    return values[0] if values else None


# Never log the event (whatever POWERTOOLS_LOGGER_LOG_EVENT says): its query and body hold the link's
# token, which is an approver's credential.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)  # the response is a page holding the token
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

"""Parked events decoded: an SQS message of the dead-letter queue, in any of the three shapes that put
events there, as one `ParkedEvent` (pure: no AWS call, never raises on what it reads).

1. EventBridge rule dead letter: the body is the event; the error is in message attributes ERROR_CODE,
   ERROR_MESSAGE, RULE_ARN, TARGET_ARN, EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS
   (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
2. Lambda on-failure destination record: {"version": "1.0", "timestamp", "requestContext": {"functionArn",
   "condition", "approximateInvokeCount", ...}, "requestPayload": <event>, "responseContext",
   "responsePayload": {"errorType", "errorMessage"}}
   (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
3. The recorder's own record of an event it refused: {"parked_by": "path2prod-recorder", "function",
   "reason", "field", "time", "event"} (recorder/service.py `park_refused`).

Anything else (a body that is not JSON, or JSON of no known shape) is format "unknown", with the reason
"not a format path2prod knows", and stays parked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from path2prod.dlq import RECORDER_PARKED_BY
from path2prod.domain.time import format_time

__all__ = ["RECORDER_PARKED_BY", "ParkedEvent", "ParkedFormat", "decode_message", "short_name", "summarize"]
UNKNOWN_FORMAT_REASON = "not a format path2prod knows"

# Each function's short name (its folder under functions/) and its logical id in template.yaml: AWS names
# a function `<stack>-<LogicalId>-<suffix>`, the sandbox `path2prod-<env>-<short name>`.
FUNCTION_LOGICAL_IDS = {
    "recorder": "RecorderFunction",
    "checkpointer": "CheckpointerFunction",
    "rollback": "RollbackFunction",
    "approvals": "ApprovalsFunction",
    "promoter": "PromoterFunction",
    "approval_page": "ApprovalPageFunction",
    "gate": "GateFunction",
    "reconciler": "ReconcilerFunction",
}
_SANDBOX_NAME = re.compile(r"path2prod-(?:dev|stg|prd)-(?P<short>\w+)")


class ParkedFormat(StrEnum):
    RULE = "rule"
    LAMBDA_DESTINATION = "lambda-destination"
    RECORDER = "recorder"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ParkedEvent:
    """One parked message: what it held, who it was meant for, why it is parked."""

    id: str  # the SQS MessageId
    format: ParkedFormat
    function: str | None  # short name ("recorder"), when it can be told
    function_name: str | None  # the full function name or ARN, when the record names it
    reason: str
    parked_at: str | None  # ISO-8601 UTC
    attempts: int | None  # how often the handler (or the rule's target) was tried before it was parked
    event: Any  # the original event
    summary: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # the wrapper's own fields (rule ARN, condition)
    receipt_handle: str | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "format": str(self.format),
            "function": self.function,
            "function_name": self.function_name,
            "reason": self.reason,
            "parked_at": self.parked_at,
            "attempts": self.attempts,
            "summary": self.summary,
            "details": self.details,
            "event": self.event,
        }


def decode_message(message: dict[str, Any]) -> ParkedEvent:
    """The SQS message (as ReceiveMessage returns it, with MessageAttributes and Attributes) decoded."""
    attributes = {
        name: str(value.get("StringValue", ""))
        for name, value in (message.get("MessageAttributes") or {}).items()
        if isinstance(value, dict)
    }
    common = {
        "id": str(message.get("MessageId", "")),
        "receipt_handle": message.get("ReceiptHandle"),
    }
    sent_at = _sent_at(message.get("Attributes") or {})
    try:
        body = json.loads(message.get("Body") or "")
    except ValueError:
        return _unknown(common, message.get("Body"), sent_at)
    if "ERROR_CODE" in attributes or "TARGET_ARN" in attributes:
        return _rule(common, body, attributes, sent_at)
    if _is_destination_record(body):
        return _lambda_destination(common, body, sent_at)
    if isinstance(body, dict) and body.get("parked_by") == RECORDER_PARKED_BY and "event" in body:
        return _recorder(common, body, sent_at)
    return _unknown(common, body, sent_at)


def _rule(common: dict[str, Any], event: Any, attributes: dict[str, str], sent_at: str | None) -> ParkedEvent:
    target = attributes.get("TARGET_ARN") or None
    name = _function_in_arn(target) if target else None
    retries = attributes.get("RETRY_ATTEMPTS", "")
    return ParkedEvent(
        **common,
        format=ParkedFormat.RULE,
        function=short_name(name or target or "") or short_name(_rule_name(attributes.get("RULE_ARN", ""))),
        function_name=_unqualified(target) if name else None,
        reason=_joined(attributes.get("ERROR_CODE"), attributes.get("ERROR_MESSAGE")) or "no error given",
        parked_at=sent_at,
        # RETRY_ATTEMPTS counts the retries, after the first delivery.
        attempts=int(retries) + 1 if retries.isdigit() else None,
        event=event,
        summary=summarize(event),
        details={
            key.lower(): attributes[key]
            for key in ("RULE_ARN", "TARGET_ARN", "EXHAUSTED_RETRY_CONDITION", "RETRY_ATTEMPTS")
            if key in attributes
        },
    )


def _is_destination_record(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("requestContext"), dict)
        and "requestPayload" in body
        and "functionArn" in body["requestContext"]
    )


def _lambda_destination(common: dict[str, Any], record: dict[str, Any], sent_at: str | None) -> ParkedEvent:
    context = record["requestContext"]
    arn = str(context.get("functionArn") or "")
    payload = record.get("responsePayload")
    error = (
        _joined(payload.get("errorType"), payload.get("errorMessage")) if isinstance(payload, dict) else None
    )
    condition = str(context.get("condition") or "")
    count = context.get("approximateInvokeCount")
    name = _function_in_arn(arn)
    event = record.get("requestPayload")
    return ParkedEvent(
        **common,
        format=ParkedFormat.LAMBDA_DESTINATION,
        function=short_name(name or ""),
        function_name=_unqualified(arn) if name else None,
        reason=error or condition or "no error given",
        parked_at=_iso(record.get("timestamp")) or sent_at,
        attempts=count if isinstance(count, int) else None,
        event=event,
        summary=summarize(event),
        details={
            key: value
            for key, value in {
                "condition": condition or None,
                "request_id": context.get("requestId"),
                "function_error": (record.get("responseContext") or {}).get("functionError"),
            }.items()
            if value
        },
    )


def _recorder(common: dict[str, Any], record: dict[str, Any], sent_at: str | None) -> ParkedEvent:
    reason = str(record.get("reason") or "refused")
    field_name = record.get("field")
    if field_name and not reason.startswith(f"{field_name}:"):
        reason = f"{field_name}: {reason}"
    function = str(record.get("function") or "recorder")
    event = record.get("event")
    return ParkedEvent(
        **common,
        format=ParkedFormat.RECORDER,
        function=short_name(function) or function,
        function_name=record.get("function_name") or None,
        reason=reason,
        parked_at=_iso(record.get("time")) or sent_at,
        attempts=1,  # parked at once: retrying cannot make a refused event valid
        event=event,
        summary=summarize(event),
        details={"field": field_name} if field_name else {},
    )


def _unknown(common: dict[str, Any], body: Any, sent_at: str | None) -> ParkedEvent:
    return ParkedEvent(
        **common,
        format=ParkedFormat.UNKNOWN,
        function=None,
        function_name=None,
        reason=UNKNOWN_FORMAT_REASON,
        parked_at=sent_at,
        attempts=None,
        event=body,
        summary=summarize(body),
    )


def summarize(event: Any) -> dict[str, Any]:
    """What tells one event from another at a glance: source and detail-type; a CodePipeline event's
    pipeline, execution and state; a path2prod event's env, commit and execution."""
    if not isinstance(event, dict):
        return {}
    summary: dict[str, Any] = {key: event[key] for key in ("source", "detail-type") if key in event}
    detail = event.get("detail")
    if isinstance(detail, dict):
        if event.get("source") == "aws.codepipeline":
            keys: tuple[str, ...] = ("pipeline", "execution-id", "state", "stage", "action")
        else:
            keys = ("env", "commit", "execution_id", "state", "request_id")
        summary.update({key: detail[key] for key in keys if isinstance(detail.get(key), str | int)})
    return summary


def short_name(name: str) -> str | None:
    """A function's short name ("recorder") from the name or ARN the sandbox or AWS gives it, or from the
    sandbox's queue or rule feeding it; None when it cannot be told."""
    name = _function_in_arn(name) or name.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    if name in FUNCTION_LOGICAL_IDS:
        return name
    sandbox = _SANDBOX_NAME.fullmatch(name)
    if sandbox and sandbox["short"] in FUNCTION_LOGICAL_IDS:
        return sandbox["short"]
    for short, logical_id in FUNCTION_LOGICAL_IDS.items():
        if logical_id in name:
            return short
    # The sandbox's rules deliver to a queue per function (`recorder-events`), named `path2prod-<fn>-<Event>`.
    for candidate in (name.removesuffix("-events"), name.removeprefix("path2prod-").split("-", 1)[0]):
        if candidate in FUNCTION_LOGICAL_IDS:
            return candidate
    return None


def _function_in_arn(arn: str) -> str | None:
    """The function's name in a Lambda ARN (qualifier dropped), or None for another ARN."""
    parts = arn.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return parts[6]
    return None


def _unqualified(arn: str | None) -> str | None:
    """A Lambda ARN without its version or alias (`:$LATEST`)."""
    if not arn:
        return None
    parts = arn.split(":")
    return ":".join(parts[:7]) if len(parts) > 7 else arn


def _rule_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _joined(code: Any, message: Any) -> str | None:
    parts = [str(part) for part in (code, message) if part]
    return ": ".join(parts) or None


def _sent_at(attributes: dict[str, Any]) -> str | None:
    millis = str(attributes.get("SentTimestamp", ""))
    if not millis.isdigit():
        return None
    return format_time(datetime.fromtimestamp(int(millis) / 1000, UTC))


def _iso(value: Any) -> str | None:
    """A time the record states, as ledger time (seconds, UTC); None when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return format_time(instant)

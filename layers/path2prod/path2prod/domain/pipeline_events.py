"""CodePipeline EventBridge events, parsed into what the ledger needs.

Hand-written instead of Powertools' pydantic parser: pydantic alone costs more import time than the
whole cold-start budget of a handler (1.6x a bare `import boto3`), and the shape checked here is small.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from path2prod.domain.errors import InvalidPipelineEvent

PIPELINE_EXECUTION = "CodePipeline Pipeline Execution State Change"
ACTION_EXECUTION = "CodePipeline Action Execution State Change"
STAGE_EXECUTION = "CodePipeline Stage Execution State Change"
DETAIL_TYPES = (PIPELINE_EXECUTION, ACTION_EXECUTION, STAGE_EXECUTION)
SOURCE = "aws.codepipeline"


@dataclass(frozen=True)
class PipelineStateChange:
    """One CodePipeline state change, reduced to the facts the ledger keeps."""

    detail_type: str
    pipeline: str
    execution_id: str
    state: str
    time: str  # ISO-8601 UTC, second precision, as EventBridge stamps it
    attempt: int
    account: str | None
    region: str | None
    start_time: str | None
    stage: str | None = None
    action: str | None = None
    action_category: str | None = None
    commit: str | None = None  # known from the event itself, when it says
    commit_summary: str | None = None

    @property
    def is_pipeline_execution(self) -> bool:
        return self.detail_type == PIPELINE_EXECUTION

    @property
    def is_source_action(self) -> bool:
        return self.detail_type == ACTION_EXECUTION and self.action_category == "Source"


def parse_pipeline_event(event: Any) -> PipelineStateChange:
    """Validate an EventBridge CodePipeline event and return its facts.

    Accepts every shape AWS documents (2022 and current pages): numbers or strings for `version`,
    optional `pipeline-execution-attempt` and `start-time`. Raises InvalidPipelineEvent naming the
    first field that is missing or wrong.
    """
    if not isinstance(event, dict):
        raise InvalidPipelineEvent(f"event must be a JSON object, got {type(event).__name__}")
    if event.get("source") != SOURCE:
        raise InvalidPipelineEvent(f"event source must be {SOURCE!r}, got {event.get('source')!r}")
    detail_type = event.get("detail-type")
    if detail_type not in DETAIL_TYPES:
        raise InvalidPipelineEvent(f"unsupported detail-type {detail_type!r}")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidPipelineEvent("event has no 'detail' object")

    pipeline = _required_str(detail, "pipeline")
    execution_id = _required_str(detail, "execution-id")
    state = _required_str(detail, "state").upper()
    time = normalise_time(_required_str(event, "time"), "time")
    attempt = _attempt(detail.get("pipeline-execution-attempt", 1))
    start_time = detail.get("start-time")
    if start_time is not None:
        start_time = normalise_time(str(start_time), "detail.start-time", keep_millis=True)

    commit, summary = _commit_from_trigger(detail)
    stage = action = category = None
    if detail_type != PIPELINE_EXECUTION:
        stage = _required_str(detail, "stage")
    if detail_type == ACTION_EXECUTION:
        action = _required_str(detail, "action")
        action_type = detail.get("type")
        if not isinstance(action_type, dict):
            raise InvalidPipelineEvent("action event has no 'detail.type' object")
        category = _required_str(action_type, "category")
        result = detail.get("execution-result")
        if category == "Source" and state == "SUCCEEDED":
            if not isinstance(result, dict):
                raise InvalidPipelineEvent("Source action SUCCEEDED without 'detail.execution-result'")
            commit = _required_str(result, "external-execution-id")
            summary = result.get("external-execution-summary")

    return PipelineStateChange(
        detail_type=detail_type,
        pipeline=pipeline,
        execution_id=execution_id,
        state=state,
        time=time,
        attempt=attempt,
        account=event.get("account"),
        region=event.get("region"),
        start_time=start_time,
        stage=stage,
        action=action,
        action_category=category,
        commit=commit,
        commit_summary=summary,
    )


def normalise_time(value: str, field: str, *, keep_millis: bool = False) -> str:
    """Return `value` as ISO-8601 UTC ending in Z; raise InvalidPipelineEvent if it is no timestamp."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidPipelineEvent(f"{field} is not an ISO-8601 time: {value!r}") from error
    if parsed.tzinfo is None:
        raise InvalidPipelineEvent(f"{field} has no time zone: {value!r}")
    parsed = parsed.astimezone(UTC)
    if keep_millis:
        return parsed.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return parsed.isoformat(timespec="seconds").replace("+00:00", "Z")


def _required_str(mapping: dict[str, Any], key: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidPipelineEvent(f"missing or empty field {key!r}")
    return value


def _attempt(value: Any) -> int:
    # AWS documents it as a number (1.0); older pages leave it out.
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 1 or value != int(value):
        raise InvalidPipelineEvent(f"pipeline-execution-attempt must be a whole number >= 1, got {value!r}")
    return int(value)


def _commit_from_trigger(detail: dict[str, Any]) -> tuple[str | None, str | None]:
    # V2 pipelines started by a git trigger name the commit in execution-trigger.
    trigger = detail.get("execution-trigger")
    if isinstance(trigger, dict) and isinstance(trigger.get("commit-id"), str) and trigger["commit-id"]:
        return trigger["commit-id"], trigger.get("commit-message")
    return None, None

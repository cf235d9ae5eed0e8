"""CodePipeline EventBridge events, parsed into what the ledger needs.

Hand-written instead of Powertools' pydantic parser: pydantic alone costs more import time than the
whole cold-start budget of a handler (1.5x a bare `import boto3`), and the shape checked here is small.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from path2prod.domain import event_fields as fields
from path2prod.domain.errors import InvalidEvent
from path2prod.domain.event_fields import ThisStack
from path2prod.domain.time import format_time, utc_now
from path2prod.domain.vocabulary import EntryState

PIPELINE_EXECUTION = "CodePipeline Pipeline Execution State Change"
ACTION_EXECUTION = "CodePipeline Action Execution State Change"
STAGE_EXECUTION = "CodePipeline Stage Execution State Change"
DETAIL_TYPES = (PIPELINE_EXECUTION, ACTION_EXECUTION, STAGE_EXECUTION)
SOURCE = "aws.codepipeline"
# The states AWS documents for each detail-type ("CodePipeline events" in the CodePipeline User Guide).
# A pipeline execution may be in any state a stage may, and also SUPERSEDED.
_STAGE_STATES = frozenset(
    {
        EntryState.CANCELED,
        EntryState.FAILED,
        EntryState.RESUMED,
        EntryState.STARTED,
        EntryState.STOPPED,
        EntryState.STOPPING,
        EntryState.SUCCEEDED,
    }
)
STATES: dict[str, frozenset[EntryState]] = {
    PIPELINE_EXECUTION: _STAGE_STATES | {EntryState.SUPERSEDED},
    STAGE_EXECUTION: _STAGE_STATES,
    ACTION_EXECUTION: frozenset(
        {
            EntryState.ABANDONED,
            EntryState.CANCELED,
            EntryState.FAILED,
            EntryState.STARTED,
            EntryState.SUCCEEDED,
        }
    ),
}


@dataclass(frozen=True)
class PipelineStateChange:
    """One CodePipeline state change, reduced to the facts the ledger keeps."""

    detail_type: str
    pipeline: str
    execution_id: str
    state: EntryState
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


def parse_pipeline_event(event: Any, stack: ThisStack, *, now: datetime | None = None) -> PipelineStateChange:
    """Validate an EventBridge CodePipeline event about this stack's pipeline and return its facts.

    Accepts every shape AWS documents (2022 and current pages): numbers or strings for `version`,
    optional `pipeline-execution-attempt` and `start-time`. Every field the ledger keeps is checked
    for type, range and format, and the event must name this stack's account, region and pipeline:
    anything else raises InvalidEvent naming the field, before anything is written.
    """
    now = now or utc_now()
    if not isinstance(event, dict):
        raise InvalidEvent("event", f"must be a JSON object, got {type(event).__name__}")
    fields.one_of(fields.text(event, "source", "source", max_length=100), (SOURCE,), "source")
    detail_type = fields.one_of(
        fields.text(event, "detail-type", "detail-type", max_length=100), DETAIL_TYPES, "detail-type"
    )
    fields.equal(fields.text(event, "account", "account", pattern=fields.ACCOUNT), stack.account, "account")
    fields.equal(fields.text(event, "region", "region", pattern=fields.REGION), stack.region, "region")
    detail = fields.mapping(event, "detail", "detail")

    pipeline = fields.equal(
        fields.text(detail, "pipeline", "detail.pipeline", pattern=fields.PIPELINE),
        stack.pipeline,
        "detail.pipeline",
    )
    execution_id = fields.text(detail, "execution-id", "detail.execution-id", pattern=fields.UUID)
    state = EntryState(
        fields.one_of(
            fields.text(detail, "state", "detail.state", max_length=20), STATES[detail_type], "detail.state"
        )
    )
    time = fields.instant(event, "time", "time", now=now)
    attempt = fields.attempt(
        detail, "pipeline-execution-attempt", "detail.pipeline-execution-attempt", default=1
    )
    start_time = None
    if detail.get("start-time") is not None:
        # Not compared with `time`: AWS's own samples stamp events years before their start-time.
        started = fields.instant(detail, "start-time", "detail.start-time", now=now)
        start_time = format_time(started, millis=True)

    commit, summary = _commit_from_trigger(detail)
    stage = action = category = None
    if detail_type != PIPELINE_EXECUTION:
        stage = fields.text(detail, "stage", "detail.stage", pattern=fields.NAME)
    if detail_type == ACTION_EXECUTION:
        action = fields.text(detail, "action", "detail.action", pattern=fields.NAME)
        action_type = fields.mapping(detail, "type", "detail.type")
        category = fields.text(action_type, "category", "detail.type.category", pattern=fields.NAME)
        if category == "Source" and state == EntryState.SUCCEEDED:
            result = fields.mapping(detail, "execution-result", "detail.execution-result")
            commit = fields.commit(
                result, "external-execution-id", "detail.execution-result.external-execution-id"
            )
            # The action's summary is the commit message too: free text, as in the trigger (a message
            # with an ESC in it is still a deployment to record; what shows it strips control characters).
            summary = _free_text(result.get("external-execution-summary"))

    return PipelineStateChange(
        detail_type=detail_type,
        pipeline=pipeline,
        execution_id=execution_id,
        state=state,
        time=format_time(time),
        attempt=attempt,
        account=stack.account,
        region=stack.region,
        start_time=start_time,
        stage=stage,
        action=action,
        action_category=category,
        commit=commit,
        commit_summary=summary,
    )


def _commit_from_trigger(detail: Mapping[str, Any]) -> tuple[str | None, str | None]:
    # V2 pipelines started by a git trigger name the commit in execution-trigger; other triggers
    # (StartPipelineExecution, a schedule) carry no commit-id, and that is no error.
    trigger = detail.get("execution-trigger")
    if trigger is None:
        return None, None
    trigger = fields.mapping(detail, "execution-trigger", "detail.execution-trigger")
    if trigger.get("commit-id") is None:
        return None, None
    commit = fields.commit(trigger, "commit-id", "detail.execution-trigger.commit-id")
    return commit, _free_text(trigger.get("commit-message"))


def _free_text(message: object) -> str | None:
    """A commit message may hold anything a developer typed: kept as free text, short."""
    return message[: fields.MAX_TEXT] if isinstance(message, str) else None

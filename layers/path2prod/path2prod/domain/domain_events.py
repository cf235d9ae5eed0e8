"""path2prod's own events (source `path2prod`), parsed strictly: what each claims, never yet believed.

The recorder publishes "Deployment Succeeded" / "Deployment Failed" on its account's bus (and forwards
the first to the next account); the approval page publishes "Promotion Approved". Anyone allowed to
put events on those buses can put the same shapes, so a parser checks every field, and the handler
then confirms the claim against what it can trust (its ledger, the upstream repository) before acting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from path2prod import ENVS
from path2prod.domain import event_fields as fields
from path2prod.domain.errors import InvalidEvent
from path2prod.domain.ledger import (
    DEPLOYMENT_FAILED,
    DEPLOYMENT_SUCCEEDED,
    DOMAIN_EVENT_SOURCE,
    PROMOTION_APPROVED,
)
from path2prod.domain.time import format_time, utc_now
from path2prod.domain.vocabulary import EntryState

# The state each deployment event must carry: a "Succeeded" saying FAILED is a forgery or a bug.
DEPLOYMENT_STATES = {DEPLOYMENT_SUCCEEDED: EntryState.SUCCEEDED, DEPLOYMENT_FAILED: EntryState.FAILED}
REQUEST_ID = re.compile(r"apr-[0-9a-f]{20}")  # domain/approvals.request_id
SCHEDULER_SOURCE = "aws.scheduler"
SCHEDULED_EVENT = "Scheduled Event"


@dataclass(frozen=True)
class DeploymentOutcome:
    """A "Deployment Succeeded" or "Deployment Failed" event's claim about one execution."""

    detail_type: str
    env: str
    account: str
    region: str
    pipeline: str
    execution_id: str
    attempt: int
    commit: str
    state: EntryState
    time: datetime
    # How long the env watches a success's alarms before it is promoted onwards (its BakeMinutes).
    bake_minutes: int = 0

    @property
    def time_text(self) -> str:
        return format_time(self.time)


@dataclass(frozen=True)
class PromotionApproval:
    """A "Promotion Approved" event's claim: this env's request is approved and owed a push."""

    env: str
    request_id: str
    commit: str


def parse_deployment_event(
    event: Any, *, detail_types: tuple[str, ...], now: datetime | None = None
) -> DeploymentOutcome:
    """The checked fields of a deployment event whose detail-type is one of `detail_types`."""
    now = now or utc_now()
    detail_type, detail = _envelope(event, detail_types)
    state = DEPLOYMENT_STATES[detail_type]
    fields.equal(fields.text(detail, "state", "detail.state", max_length=20), state.value, "detail.state")
    return DeploymentOutcome(
        detail_type=detail_type,
        env=fields.one_of(fields.text(detail, "env", "detail.env", max_length=10), ENVS, "detail.env"),
        account=fields.text(detail, "account", "detail.account", pattern=fields.ACCOUNT),
        region=fields.text(detail, "region", "detail.region", pattern=fields.REGION),
        pipeline=fields.text(detail, "pipeline", "detail.pipeline", pattern=fields.PIPELINE),
        execution_id=fields.text(detail, "execution_id", "detail.execution_id", pattern=fields.UUID),
        attempt=fields.attempt(detail, "attempt", "detail.attempt"),
        commit=fields.commit(detail, "commit", "detail.commit"),
        state=state,
        time=fields.instant(detail, "time", "detail.time", now=now),
        bake_minutes=fields.bake_minutes(detail, "bake_minutes", "detail.bake_minutes"),
    )


def parse_promotion_approved(event: Any) -> PromotionApproval:
    """The checked fields of a "Promotion Approved" event."""
    _, detail = _envelope(event, (PROMOTION_APPROVED,))
    return PromotionApproval(
        env=fields.one_of(fields.text(detail, "env", "detail.env", max_length=10), ENVS, "detail.env"),
        request_id=fields.text(detail, "request_id", "detail.request_id", pattern=REQUEST_ID),
        commit=fields.commit(detail, "commit", "detail.commit"),
    )


def is_scheduled_event(event: Any) -> bool:
    """Whether `event` is EventBridge Scheduler's (a schedule's tick carries nothing to believe)."""
    return (
        isinstance(event, dict)
        and event.get("source") == SCHEDULER_SOURCE
        and event.get("detail-type") == SCHEDULED_EVENT
    )


def _envelope(event: Any, detail_types: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    if not isinstance(event, dict):
        raise InvalidEvent("event", f"must be a JSON object, got {type(event).__name__}")
    source = fields.text(event, "source", "source", max_length=100)
    fields.one_of(source, (DOMAIN_EVENT_SOURCE,), "source")
    detail_type = fields.text(event, "detail-type", "detail-type", max_length=100)
    fields.one_of(detail_type, detail_types, "detail-type")
    detail = fields.mapping(event, "detail", "detail")
    return detail_type, dict(detail)

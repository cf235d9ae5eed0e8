"""The approvals function's own-account events, parsed strictly: what each claims, never yet believed.

Besides the upstream's forwarded "Deployment Succeeded", the approvals function (the one part of the
stack that may sign links and mail approvers) takes two events from its own account's bus:

- "Promotion Rejected" (put by the approval page or `path2prod reject`): tell the commit's author and
  the other approvers. Confirmed: the request is this env's, REJECTED, with a chained REJECTED entry.
- "Approval Requested Again" (put by `path2prod approvals request`): open a new request for a commit
  whose request was REJECTED or EXPIRED. Confirmed: that request is this env's, for that commit, opened
  by a genuine upstream success (its chained REQUESTED entry), and nobody can answer it any more.

Anyone allowed to put events on the bus can put these shapes: a parser checks every field, and the
use case (approvals/opening.py) confirms the claim against the ledger before acting. How they are
written (detail-types, details) is approvals/event_shapes.py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from path2prod import ENVS
from path2prod.approvals.event_shapes import APPROVAL_ASKED_AGAIN, PROMOTION_REJECTED
from path2prod.domain import event_fields as fields
from path2prod.domain.approvals import MAX_IDENTITY_LENGTH
from path2prod.domain.domain_events import REQUEST_ID
from path2prod.domain.errors import InvalidEvent
from path2prod.domain.ledger import DOMAIN_EVENT_SOURCE


@dataclass(frozen=True)
class RejectionClaim:
    """A "Promotion Rejected" event's claim: this env's request was rejected."""

    env: str
    request_id: str
    commit: str


@dataclass(frozen=True)
class AskAgainClaim:
    """An "Approval Requested Again" event's claim: `requested_by` asks again for `commit` in `env`,
    whose request `previous_request_id` was REJECTED or EXPIRED."""

    env: str
    commit: str
    previous_request_id: str
    requested_by: str


def detail_type(event: Any) -> str:
    """The detail-type of a path2prod event (InvalidEvent for anything else)."""
    if not isinstance(event, dict):
        raise InvalidEvent("event", f"must be a JSON object, got {type(event).__name__}")
    fields.one_of(fields.text(event, "source", "source", max_length=100), (DOMAIN_EVENT_SOURCE,), "source")
    return fields.text(event, "detail-type", "detail-type", max_length=100)


def parse_rejection(event: Any) -> RejectionClaim:
    """The checked fields of a "Promotion Rejected" event."""
    detail = _detail(event, PROMOTION_REJECTED)
    return RejectionClaim(
        env=_env(detail),
        request_id=fields.text(detail, "request_id", "detail.request_id", pattern=REQUEST_ID),
        commit=fields.commit(detail, "commit", "detail.commit"),
    )


def parse_ask_again(event: Any) -> AskAgainClaim:
    """The checked fields of an "Approval Requested Again" event."""
    detail = _detail(event, APPROVAL_ASKED_AGAIN)
    return AskAgainClaim(
        env=_env(detail),
        commit=fields.commit(detail, "commit", "detail.commit"),
        previous_request_id=fields.text(
            detail, "previous_request_id", "detail.previous_request_id", pattern=REQUEST_ID
        ),
        requested_by=fields.text(
            detail, "requested_by", "detail.requested_by", max_length=MAX_IDENTITY_LENGTH
        ),
    )


def _detail(event: Any, expected: str) -> dict[str, Any]:
    fields.equal(detail_type(event), expected, "detail-type")
    return dict(fields.mapping(event, "detail", "detail"))


def _env(detail: dict[str, Any]) -> str:
    return fields.one_of(fields.text(detail, "env", "detail.env", max_length=10), ENVS, "detail.env")

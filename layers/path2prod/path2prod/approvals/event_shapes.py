"""The approvals function's own-account events as they are written: their detail-types and details.

The approval page and the CLI write them; only the approvals function reads them, through the strict
parsers of approvals/events.py. Kept apart so that the writers do not import the parsers (and, through
them, the other domain events' parsers) at init: cold import, docs/benchmarks.md.
"""

from __future__ import annotations

from typing import Any

PROMOTION_REJECTED = "Promotion Rejected"
APPROVAL_ASKED_AGAIN = "Approval Requested Again"


def rejection_detail(env: str, request_id: str, commit: str) -> dict[str, Any]:
    """The detail of a "Promotion Rejected" event (what events.parse_rejection reads)."""
    return {"env": env, "request_id": request_id, "commit": commit}


def ask_again_detail(env: str, commit: str, previous_request_id: str, requested_by: str) -> dict[str, Any]:
    """The detail of an "Approval Requested Again" event (what events.parse_ask_again reads)."""
    return {
        "env": env,
        "commit": commit,
        "previous_request_id": previous_request_id,
        "requested_by": requested_by,
    }

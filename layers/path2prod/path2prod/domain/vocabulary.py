"""The ledger's words, spelled once: what kind of thing an entry records, and the state it is in.

Both are StrEnums, so a member equals its text: a state read back from DynamoDB as plain text compares
equal to its member (`EntryState.SUCCEEDED`), and JSON, CSV and the table hold the same words as before.
"""

from __future__ import annotations

from enum import StrEnum


class EntryKind(StrEnum):
    """What one ledger entry records."""

    DEPLOYMENT = "deployment"  # a state change of a pipeline execution
    ROLLBACK = "rollback"  # a rollback (or redeploy): STARTED, then one ending; or REFUSED
    APPROVAL = "approval"  # a promotion request, each decision, its expiry or supersession
    PROMOTION = "promotion"  # the push an approved request led to
    GATE = "gate"  # the provenance gate's decision about a commit about to build (one per execution)


class EntryState(StrEnum):
    """Every state an entry can be in. CodePipeline's execution states come first (its documented set:
    https://docs.aws.amazon.com/codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html),
    then the states path2prod's own entries add."""

    # CodePipeline (pipeline, stage and action executions)
    STARTED = "STARTED"
    RESUMED = "RESUMED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    SUCCEEDED = "SUCCEEDED"
    SUPERSEDED = "SUPERSEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    ABANDONED = "ABANDONED"  # also a rollback ended by `--take-over`
    # rollback: a decision not to roll back (nothing started, nothing to end)
    REFUSED = "REFUSED"
    # approval requests and decisions
    REQUESTED = "REQUESTED"
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    # promotions: the approved commit pushed, or not
    PUSHED = "PUSHED"
    SKIPPED = "SKIPPED"
    # a promotion approved while its env's deploy window is closed: pushed when the window opens
    HELD = "HELD"
    # an approver's order to push an approved commit while the window is closed (`approve --break-glass`)
    BREAK_GLASS = "BREAK_GLASS"
    # the gate: a commit about to build is backed (ALLOWED), or not: REFUSED (enforce) or WARNED (warn:
    # recorded and alerted, and let run)
    ALLOWED = "ALLOWED"
    WARNED = "WARNED"


# The `via` of a promotion entry an approver's break-glass order pushed during a closed deploy window.
BREAK_GLASS = "break glass"

# A deployment in one of these has ended; within one attempt they outrank every other state.
TERMINAL_STATES = frozenset(
    {EntryState.SUCCEEDED, EntryState.FAILED, EntryState.STOPPED, EntryState.SUPERSEDED, EntryState.CANCELED}
)

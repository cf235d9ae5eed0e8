"""The provenance gate's rules: a CodePipeline job read and checked, and the decision about the commit it
is about to build. Pure, no AWS.

CodePipeline runs the gate as a `LambdaInvoke` rule of the Build stage's entry condition (result FAIL).
That rule's page documents only its configuration (FunctionName, UserParameters):
https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-LambdaInvoke.html
The event the function gets and the way it reports are the Lambda invoke action's:
https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html
`{"CodePipeline.job": {"id", "accountId", "data": {"actionConfiguration": {"configuration":
{"FunctionName", "UserParameters"}}, "inputArtifacts", "outputArtifacts", "artifactCredentials"}}}`,
answered by PutJobSuccessResult(jobId) or PutJobFailureResult(jobId, failureDetails).

UserParameters (template.yaml) are `{"execution_id": "#{codepipeline.PipelineExecutionId}", "commit":
"#{SourceVariables.CommitId}"}`: claims, which the gate confirms with GetPipelineExecution before it
believes them. The decision reads only this env's ledger (the ledger is the truth): domain/provenance.py's
`local_backing`. With deploy windows (domain/deploy_windows.py), a promotion must also have been pushed
while the window was open, or by break glass (its promotion entry's `via`); rollbacks always pass, so a
freeze never blocks a fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from path2prod.domain import event_fields as fields
from path2prod.domain.errors import InvalidEvent
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.provenance import Deployment, local_backing
from path2prod.domain.time import parse_time
from path2prod.domain.vocabulary import BREAK_GLASS, EntryKind, EntryState

if TYPE_CHECKING:
    from path2prod.domain.deploy_windows import DeployWindows

JOB = "CodePipeline.job"
# A CodeCommit commit id is SHA-1; a git repository in SHA-256 names commits with 64 digits.
SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
MAX_USER_PARAMETERS = 1000  # CodePipeline's limit on an action's UserParameters


class GateMode(StrEnum):
    """The stack parameter GateMode: `auto` is enforce in prd, warn in stg; dev has no gate."""

    AUTO = "auto"
    ENFORCE = "enforce"
    WARN = "warn"
    OFF = "off"


def resolve_mode(mode: GateMode, env: str) -> GateMode:
    """The mode a stack's gate runs in: auto resolved for env (dev is the entry point: no gate)."""
    if env == "dev":
        return GateMode.OFF
    if mode is GateMode.AUTO:
        return GateMode.ENFORCE if env == "prd" else GateMode.WARN
    return mode


@dataclass(frozen=True)
class GateJob:
    """A CodePipeline job for the gate: its id, account, and the claims of its UserParameters."""

    job_id: str
    account: str
    execution_id: str
    commit: str


def job_id_of(event: Any) -> str | None:
    """The job's id when the event has a well-formed one (a result can be reported only for it)."""
    job = event.get(JOB) if isinstance(event, Mapping) else None
    job_id = job.get("id") if isinstance(job, Mapping) else None
    return job_id if isinstance(job_id, str) and fields.UUID.fullmatch(job_id) else None


def parse_job(event: Any) -> GateJob:
    """The job as the Lambda invoke action documents it, every field checked; InvalidEvent naming the
    field otherwise."""
    if not isinstance(event, Mapping):
        raise InvalidEvent("event", "must be an object")
    job = fields.mapping(event, JOB, JOB)
    job_id = fields.text(job, "id", f"{JOB}.id", pattern=fields.UUID)
    account = fields.text(job, "accountId", f"{JOB}.accountId", pattern=fields.ACCOUNT)
    data = fields.mapping(job, "data", f"{JOB}.data")
    action = fields.mapping(data, "actionConfiguration", f"{JOB}.data.actionConfiguration")
    configuration = fields.mapping(action, "configuration", f"{JOB}.data.actionConfiguration.configuration")
    path = f"{JOB}.data.actionConfiguration.configuration.UserParameters"
    raw = configuration.get("UserParameters")
    if not isinstance(raw, str) or len(raw) > MAX_USER_PARAMETERS:
        raise InvalidEvent(path, f"must be JSON text of at most {MAX_USER_PARAMETERS} characters")
    try:
        claims = json.loads(raw)
    except ValueError:
        raise InvalidEvent(path, "is not JSON") from None
    if not isinstance(claims, Mapping):
        raise InvalidEvent(path, "must be a JSON object")
    execution_id = fields.text(claims, "execution_id", f"{path}.execution_id", pattern=fields.UUID)
    commit = fields.text(claims, "commit", f"{path}.commit", pattern=SHA)
    return GateJob(job_id=job_id, account=account, execution_id=execution_id, commit=commit)


class Via(StrEnum):
    """What put the commit on main, as a gate entry's `via` says."""

    PROMOTION = "promotion"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class GateDecision:
    """ALLOWED, WARNED (mode warn: would refuse, lets it run) or REFUSED, with a one-line reason."""

    state: EntryState
    reason: str
    via: Via | None = None

    @property
    def lets_run(self) -> bool:
        return self.state != EntryState.REFUSED


def decide(
    env: str,
    commit: str,
    now: str,
    entries: Iterable[LedgerEntry],
    mode: GateMode,
    windows: DeployWindows | None = None,
) -> GateDecision:
    """Whether `commit`, about to build in `env` at `now`, is backed by env's own ledger (`entries`: the
    commit's entries and the env's entries since the last push or rollback of it, see local_backing),
    and, for a promotion, pushed while env's deploy `windows` were open (or by break glass)."""
    backing = local_backing(Deployment(env, commit, now), entries)
    state = EntryState.WARNED if mode is GateMode.WARN else EntryState.REFUSED
    if backing.backed and backing.cause is not None:
        cause = backing.cause
        if cause.kind == EntryKind.ROLLBACK:
            return GateDecision(EntryState.ALLOWED, f"rollback {cause.execution_id}", Via.ROLLBACK)
        if cause.via == BREAK_GLASS:
            return GateDecision(
                EntryState.ALLOWED, f"approved promotion {cause.execution_id}, by break glass", Via.PROMOTION
            )
        closed_by = windows.closed_by(parse_time(cause.time)) if windows else None
        if closed_by is not None:
            pushed = f"promotion {cause.execution_id} was pushed at {cause.time}"
            reason = f"{pushed} while {env}'s deploy window was closed ({closed_by})"
            return GateDecision(state, reason, Via.PROMOTION)
        return GateDecision(EntryState.ALLOWED, f"approved promotion {cause.execution_id}", Via.PROMOTION)
    reason = backing.reason or f"nothing in {env}'s ledger put {commit[:12]} on main"
    return GateDecision(state, reason)


def push_not_recorded_yet(env: str, commit: str, entries: Iterable[LedgerEntry]) -> bool:
    """Whether `commit` holds an APPROVED request in env whose promotion (the promoter's push) is not
    recorded: the promoter records its push just after making it, so a gate quick enough to run in
    between would refuse a good promotion. The gate reads again before it refuses such a commit."""
    mine = [entry for entry in entries if entry.env == env and entry.commit == commit]
    pushed = {entry.execution_id for entry in mine if entry.kind == EntryKind.PROMOTION}
    return any(
        entry.kind == EntryKind.APPROVAL
        and entry.state == EntryState.APPROVED
        and entry.execution_id not in pushed
        for entry in mine
    )


def gate_entry(
    env: str,
    job: GateJob,
    pipeline: str,
    decision: GateDecision,
    *,
    time: str,
    start_time: str,
    account: str,
    region: str,
    trigger: str | None,
) -> LedgerEntry:
    """The gate entry of one decision: one per pipeline execution (ledger_keys.py keys it so)."""
    return LedgerEntry(
        env=env,
        commit=job.commit,
        state=decision.state,
        kind=EntryKind.GATE,
        execution_id=job.execution_id,
        pipeline=pipeline,
        attempt=1,
        time=time,
        start_time=start_time,
        account=account,
        region=region,
        trigger=trigger,
        reason=decision.reason,
        via=decision.via.value if decision.via else None,
    )


def recorded_decision(entry: LedgerEntry) -> GateDecision:
    """The decision a gate entry records (a redelivered job is answered with it again)."""
    via = Via(entry.via) if entry.via in (Via.PROMOTION, Via.ROLLBACK) else None
    return GateDecision(EntryState(entry.state), entry.reason or "", via)

"""The gate function's use case: CodePipeline asks, before the Build stage, whether the commit may build.

The job is a claim (domain/gate.py): its execution and commit are confirmed with GetPipelineExecution
before anything is read or written. Then this env's own ledger decides (provenance's local backing) and
the decision is a `gate` entry, one per pipeline execution (a conditional put: a redelivered job is
answered with what was recorded). Refused (enforce) or warned (warn): an alert. Every path ends in a job
result, never in a raised error: a job left unanswered would hold the pipeline until CodePipeline's
timeout and say nothing of why.

Reads per decision: one by-commit Query, and a by-env-time Query from the last push or rollback of the
commit on (none when nothing ever put it on main); no Scan.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from path2prod.domain import event_fields as fields
from path2prod.domain.errors import ExecutionNotFound, InvalidEvent
from path2prod.domain.gate import (
    GateDecision,
    GateJob,
    GateMode,
    decide,
    gate_entry,
    job_id_of,
    parse_job,
    push_not_recorded_yet,
    recorded_decision,
)
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.provenance import last_put_on_main
from path2prod.domain.time import format_time
from path2prod.domain.vocabulary import EntryState
from path2prod.gate.ports import Gate

log = logging.getLogger(__name__)
# Before refusing an approved commit whose push is not recorded yet (domain/gate.py), the gate reads
# again after these pauses (seconds): 3.5 s in all, well within its 30 s timeout.
PUSH_RECORD_PAUSES = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class JobAnswered:
    """What the gate answered one job: `passed` (PutJobSuccessResult) or not, and why."""

    job_id: str | None
    passed: bool | None  # None: no job id to answer
    reason: str
    state: EntryState | None = None  # the decision recorded (None: nothing it could attribute)
    recorded: bool = False  # whether this delivery wrote the gate entry

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "passed": self.passed,
            "state": self.state.value if self.state else None,
            "recorded": self.recorded,
            "reason": self.reason,
        }


def on_job(event: Any, gate: Gate) -> JobAnswered:
    """Answer one CodePipeline job: success when the commit may build (or the gate only warns), else
    failure with the one-line reason. See the module's docstring."""
    job_id = job_id_of(event)
    if job_id is None:
        # No id, no answer possible: CodePipeline times the job out, which fails the condition.
        return JobAnswered(None, None, "not a CodePipeline job (no well-formed CodePipeline.job.id)")
    if gate.mode is GateMode.OFF:
        gate.jobs.succeed(job_id)
        return JobAnswered(job_id, True, "the gate is off")
    try:
        job = parse_job(event)
        fields.equal(job.account, gate.stack.account, "CodePipeline.job.accountId")
        trigger = _confirm(job, gate)
    except (InvalidEvent, ExecutionNotFound) as unconfirmed:
        return _unattributable(job_id, str(unconfirmed), gate)
    decision, recorded = _decide_once(job, trigger, gate)
    return _answer(job, decision, recorded, gate)


def _confirm(job: GateJob, gate: Gate) -> str | None:
    """Who started the execution, once CodePipeline confirms it is this pipeline's and runs the
    claimed commit; InvalidEvent (cannot confirm) otherwise."""
    commit, trigger = gate.executions.revision_and_trigger(gate.stack.pipeline, job.execution_id)
    if commit != job.commit:
        raise InvalidEvent(
            "UserParameters.commit",
            f"cannot confirm {job.commit[:12]}: {gate.stack.pipeline} execution {job.execution_id} "
            f"runs {commit[:12] if commit else 'no commit yet'}",
        )
    return trigger


def _decide_once(job: GateJob, trigger: str | None, gate: Gate) -> tuple[GateDecision, bool]:
    """The decision about the job's execution, and whether this delivery recorded it: a redelivery finds
    the entry there (the conditional put refuses a second one) and answers with the first decision."""
    for pause in (*PUSH_RECORD_PAUSES, None):
        now = gate.clock()
        time, start_time = format_time(now), format_time(now, millis=True)
        evidence = _evidence(job.commit, time, gate)
        decision = decide(gate.env, job.commit, time, evidence, gate.mode, gate.windows)
        if decision.state == EntryState.ALLOWED or pause is None:
            break
        if not push_not_recorded_yet(gate.env, job.commit, evidence):
            break
        gate.sleep(pause)  # an approved promotion whose push the promoter is recording now
    entry = gate_entry(
        gate.env,
        job,
        gate.stack.pipeline,
        decision,
        time=time,
        start_time=start_time,
        account=gate.stack.account,
        region=gate.stack.region,
        trigger=trigger,
    )
    if gate.ledger.append_entry(entry):
        return decision, True
    recorded = gate.ledger.gate_entries(gate.stack.pipeline, job.execution_id)
    return (recorded_decision(recorded[0]), False) if recorded else (decision, False)


def _evidence(commit: str, now: str, gate: Gate) -> list[LedgerEntry]:
    """This env's entries the decision needs: the commit's own (by commit), and the env's since the
    last push or rollback of it (by env and time), when there is one."""
    mine = [
        entry for entry in gate.ledger.commit_entries(commit, newest_first=False) if entry.env == gate.env
    ]
    cause = last_put_on_main(commit, now, mine)
    if cause is None:
        return mine
    since = list(gate.ledger.history(gate.env, oldest_first=True, since=cause.time))
    return list({*mine, *since})


def _answer(job: GateJob, decision: GateDecision, recorded: bool, gate: Gate) -> JobAnswered:
    if decision.state != EntryState.ALLOWED and recorded:
        _alert(job, decision, gate)
    if decision.lets_run:
        gate.jobs.succeed(job.job_id)
    else:
        gate.jobs.fail(job.job_id, f"path2prod gate: {decision.reason}")
    log.info("gate %s %s in %s: %s", decision.state, job.commit, gate.env, decision.reason)
    return JobAnswered(job.job_id, decision.lets_run, decision.reason, decision.state, recorded)


def _unattributable(job_id: str, reason: str, gate: Gate) -> JobAnswered:
    """A job the gate cannot read or confirm: nothing recorded (nothing to attribute it to); failed in
    enforce, let through in warn, as a decision would be."""
    log.warning("gate: job %s not confirmed: %s", job_id, reason)
    if gate.mode is GateMode.ENFORCE:
        gate.jobs.fail(job_id, f"path2prod gate: {reason}")
        return JobAnswered(job_id, False, reason)
    gate.jobs.succeed(job_id)
    return JobAnswered(job_id, True, reason)


def _alert(job: GateJob, decision: GateDecision, gate: Gate) -> None:
    env, sha = gate.env, job.commit[:12]
    if decision.state == EntryState.REFUSED:
        subject = f"path2prod {env}: gate refused {sha}, not built"
        outcome = f"The pipeline execution fails before its Build stage: {sha} is not deployed."
    else:
        subject = f"path2prod {env}: gate would refuse {sha} (warn mode), building anyway"
        outcome = "The gate is in warn mode: the build goes on, and this is recorded."
    gate.alerts.publish(
        subject,
        f"The provenance gate of {env} {decision.state} {job.commit}\n"
        f"(pipeline {gate.stack.pipeline}, execution {job.execution_id}).\n"
        f"Why: {decision.reason}\n{outcome}\n\n"
        f"Promote through path2prod (an approval in {env}), or roll back to a commit that ran here.\n"
        f"Ledger entries to look at:\n"
        f"  path2prod ledger history {env}\n"
        f"  path2prod audit provenance --env {env}\n",
    )

"""Provenance: what backs a deployment, read from the ledgers of dev, stg and prd. Pure, no AWS.

A commit enters the path in dev (a push there is the entry point, complete by definition). A deployment
in stg or prd is backed, and its provenance *complete*, when one of two things put its commit on the
env's main before the deployment started:

- a **promotion**: the promoter's push (a `promotion` entry SUCCEEDED) of an approval request holding an
  APPROVED entry for that commit, no later than the push; and the commit SUCCEEDED upstream (dev for
  stg, stg for prd) before the deployment, in a deployment whose own provenance is complete (so a prd
  deployment is complete only when its whole chain dev -> stg -> prd is);
- a **rollback or redeploy**: a `rollback` entry STARTED to that commit, to a commit that SUCCEEDED in
  this env before the rollback started. A rollback vouches for what ran before, not for how that got
  there: that earlier deployment's own provenance says so.

Either way, that push or rollback is the last one naming the commit before the deployment, and no
deployment of another commit started in the env in between: else main named another commit meanwhile,
and this one was put back by hand. (So a re-run of what main names, with nothing else in between, stays
backed by what put it there.) Anything else is
*broken*, with a one-line reason. Times are ledger times (to the second); "before" is "at or before",
as a push and the execution it starts often share a second.

The gate (domain/gate.py) decides the same way about a commit about to deploy, from the env's own ledger
only (`local_backing`): a `Deployment` with no execution, started now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from path2prod.domain.ledger import LedgerEntry, outcome
from path2prod.domain.vocabulary import EntryKind, EntryState

# The env each env's commits come from; dev has none: a push there is where the path starts.
UPSTREAM = {"stg": "dev", "prd": "stg"}
# What a rollback step of a chain says (its other steps say the entry's state: SUCCEEDED, APPROVED, PUSHED).
ROLLBACK = "ROLLBACK"
REDEPLOY = "REDEPLOY"


class Backing(StrEnum):
    """What a complete deployment rests on (the `via` of a Provenance)."""

    ENTRY_POINT = "entry point"
    PROMOTION = "promotion"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class Deployment:
    """A commit deployed in an env: by a pipeline execution that SUCCEEDED, or (the gate's question)
    about to be, with no execution yet. `started_at` is the instant the evidence must precede."""

    env: str
    commit: str
    started_at: str
    execution_id: str | None = None
    succeeded_at: str | None = None


@dataclass(frozen=True)
class Step:
    """One link of a chain: in `env`, `what` happened at `time`; `ref` names the entry (an execution or
    an approval request), `by` who (an approver, a rollback's trigger) when the ledger says."""

    env: str
    what: str
    time: str
    ref: str
    by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"env": self.env, "what": self.what, "time": self.time, "ref": self.ref, "by": self.by}


@dataclass(frozen=True)
class Provenance:
    """What backs one deployment: its chain, oldest step first, and why it is broken (None: complete)."""

    deployment: Deployment
    steps: tuple[Step, ...]
    reason: str | None = None
    via: str | None = None
    problems: tuple[str, ...] = field(default=(), repr=False)

    @property
    def complete(self) -> bool:
        return self.reason is None


def deployments_in(env: str, entries: Iterable[LedgerEntry]) -> list[Deployment]:
    """The deployments of `env` in `entries` whose execution ended SUCCEEDED, oldest first; each started
    at its execution's first entry in `entries` (normally its STARTED), and succeeded at its outcome."""
    executions: dict[tuple[str, str], list[LedgerEntry]] = {}
    for entry in entries:
        if entry.env == env and entry.kind == EntryKind.DEPLOYMENT:
            executions.setdefault((entry.pipeline, entry.execution_id), []).append(entry)
    found = []
    for (_, execution_id), states in executions.items():
        ended = outcome(states)
        if ended is None or ended.state != EntryState.SUCCEEDED:
            continue
        started = min(entry.time for entry in states)
        found.append(Deployment(env, ended.commit, started, execution_id, ended.time))
    return sorted(found, key=lambda deployment: (deployment.succeeded_at or "", deployment.started_at))


def refused_by_gate(env: str, entries: Iterable[LedgerEntry]) -> list[Provenance]:
    """The commits the gate stopped before they built in `env` (its REFUSED entries), oldest first: no
    deployment, yet what an auditor looks for first. Each is broken, with the gate's reason; its one
    step is the refusal (a WARNED commit went on to deploy, and is judged as a deployment)."""
    refused = sorted(
        (e for e in entries if e.env == env and e.kind == EntryKind.GATE and e.state == EntryState.REFUSED),
        key=lambda entry: entry.order_key,
    )
    return [
        _broken(
            Deployment(env, entry.commit, entry.time, entry.execution_id),
            (Step(env, entry.state, entry.time, entry.execution_id, entry.trigger),),
            [f"refused by the gate: {entry.reason}"],
        )
        for entry in refused
    ]


def provenance_of(deployment: Deployment, ledgers: Mapping[str, Iterable[LedgerEntry]]) -> Provenance:
    """What backs `deployment`, from the entries of each env's ledger in `ledgers` (any order; an env
    missing is an empty ledger). See the module's docstring for the rules."""
    by_env = {env: list(entries) for env, entries in ledgers.items()}
    return _provenance(deployment, by_env)


@dataclass(frozen=True)
class LocalBacking:
    """What in an env's own ledger put a deployment's commit on its main (`cause`: the promotion's push
    or the rollback's start), and how (`via`); `reason` says why nothing does (None: backed)."""

    cause: LedgerEntry | None
    via: Backing | None
    reason: str | None = None

    @property
    def backed(self) -> bool:
        return self.reason is None


def local_backing(deployment: Deployment, entries: Iterable[LedgerEntry]) -> LocalBacking:
    """What backs `deployment` in its env's own ledger, `entries` (any order), upstream left unread: an
    approved promotion's push, or a rollback (or redeploy) to a commit that SUCCEEDED there before, the
    last thing to put the commit on main with no deployment of another commit started since. The rules
    are provenance_of's, the upstream chain aside (dev, the entry point, is backed by definition).

    `entries` must hold the commit's entries and the env's deployments started after the newest
    `last_put_on_main` of the commit (what the gate reads: a by-commit and a by-env-time Query).
    """
    env, commit, start = deployment.env, deployment.commit, deployment.started_at
    if env not in UPSTREAM:
        return LocalBacking(None, Backing.ENTRY_POINT)
    own = [
        entry for entry in entries if entry.env == env and (entry.commit == commit or _is_deployment(entry))
    ]
    cause = _cause(commit, start, own)
    if cause is None:
        return LocalBacking(None, None, _why_no_cause(commit, env, start, own))
    if cause.kind == EntryKind.ROLLBACK:
        rolled_back = _rolled_back(deployment, cause, own, ())
        return LocalBacking(cause, Backing.ROLLBACK if rolled_back.complete else None, rolled_back.reason)
    if not _approvals_before(cause, commit, own):
        return LocalBacking(cause, None, _unapproved(cause))
    return LocalBacking(cause, Backing.PROMOTION)


def last_put_on_main(commit: str, before: str, entries: Iterable[LedgerEntry]) -> LedgerEntry | None:
    """The newest entry of `entries` that put `commit` on main (a promotion's push, a rollback's start)
    at or before `before`: from its time on, a deployment of another commit breaks what it backs."""
    return max(
        (
            entry
            for entry in entries
            if entry.commit == commit and entry.time <= before and _puts_on_main(entry)
        ),
        key=lambda entry: entry.order_key,
        default=None,
    )


def _provenance(deployment: Deployment, ledgers: Mapping[str, Sequence[LedgerEntry]]) -> Provenance:
    env, commit, start = deployment.env, deployment.commit, deployment.started_at
    own = _own_step(deployment)
    upstream_env = UPSTREAM.get(env)
    if upstream_env is None:
        return Provenance(deployment, own, via=Backing.ENTRY_POINT)
    entries = [
        entry
        for entry in ledgers.get(env, ())
        if entry.env == env and (entry.commit == commit or _is_deployment(entry))
    ]
    cause = _cause(commit, start, entries)
    if cause is None:
        problems = [_why_no_cause(commit, env, start, entries)]
        if not _upstream_successes(commit, upstream_env, start, ledgers):
            problems.append(_not_upstream(deployment, upstream_env, ledgers))
        return _broken(deployment, own, problems)
    if cause.kind == EntryKind.ROLLBACK:
        return _rolled_back(deployment, cause, entries, own)
    return _promoted(deployment, cause, upstream_env, entries, ledgers, own)


def _promoted(
    deployment: Deployment,
    push: LedgerEntry,
    upstream_env: str,
    entries: Sequence[LedgerEntry],
    ledgers: Mapping[str, Sequence[LedgerEntry]],
    own: tuple[Step, ...],
) -> Provenance:
    env, commit = deployment.env, deployment.commit
    approvals = _approvals_before(push, commit, entries)
    steps = [Step(env, EntryState.APPROVED, a.time, a.execution_id, a.trigger) for a in approvals]
    steps.append(Step(env, EntryState.PUSHED, push.time, push.execution_id, push.trigger))
    problems = []
    if not approvals:
        problems.append(_unapproved(push))
    upstream = [
        _provenance(earlier, ledgers)
        for earlier in _upstream_successes(commit, upstream_env, deployment.started_at, ledgers)
    ]
    if not upstream:
        problems.append(_not_upstream(deployment, upstream_env, ledgers))
        chain: tuple[Step, ...] = ()
    else:
        # The newest complete upstream deployment backs this one; failing that, the newest says why not.
        backing = next((p for p in reversed(upstream) if p.complete), upstream[-1])
        chain = backing.steps
        if not backing.complete:
            problems.append(f"{upstream_env}: {backing.reason}")
    if problems:
        return _broken(deployment, (*chain, *steps, *own), problems)
    return Provenance(deployment, (*chain, *steps, *own), via=Backing.PROMOTION)


def _approvals_before(push: LedgerEntry, commit: str, entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """The APPROVED entries of the push's request for `commit`, no later than the push, oldest first."""
    return sorted(
        (
            entry
            for entry in entries
            if entry.kind == EntryKind.APPROVAL
            and entry.state == EntryState.APPROVED
            and entry.execution_id == push.execution_id
            and entry.commit == commit
            and entry.time <= push.time
        ),
        key=lambda entry: entry.order_key,
    )


def _unapproved(push: LedgerEntry) -> str:
    return f"promotion {push.execution_id} has no APPROVED entry before its push"


def _rolled_back(
    deployment: Deployment, rollback: LedgerEntry, entries: Sequence[LedgerEntry], own: tuple[Step, ...]
) -> Provenance:
    env, commit = deployment.env, deployment.commit
    earlier = [
        d
        for d in deployments_in(env, entries)
        if d.commit == commit
        and d.execution_id != deployment.execution_id
        and (d.succeeded_at or d.started_at) <= rollback.time
    ]
    # manual.py's redeploy is a rollback whose reason starts so: the chain names it for what it was.
    what = REDEPLOY if (rollback.reason or "").startswith("redeploy") else ROLLBACK
    steps = (Step(env, what, rollback.time, rollback.execution_id, rollback.trigger), *own)
    if not earlier:
        return _broken(deployment, steps, [f"rollback to {commit[:12]}, which had never SUCCEEDED in {env}"])
    good = earlier[-1]
    ran_before = Step(
        env, EntryState.SUCCEEDED, good.succeeded_at or good.started_at, good.execution_id or ""
    )
    return Provenance(deployment, (ran_before, *steps), via=Backing.ROLLBACK)


def _cause(commit: str, start: str, entries: Sequence[LedgerEntry]) -> LedgerEntry | None:
    """The last thing path2prod did to put `commit` on the env's main before `start`: the promoter's
    push, or a rollback's start. None when there is none, or when a deployment of another commit
    started in between (main named that commit then, so `commit` came back by other means)."""
    cause = last_put_on_main(commit, start, entries)
    if cause is None:
        return None
    if _other_deployment_between(commit, cause.time, start, entries) is not None:
        return None
    return cause


def _puts_on_main(entry: LedgerEntry) -> bool:
    """A promotion pushed, or a rollback started (it force-pushes its target, or re-runs it)."""
    return (entry.kind == EntryKind.PROMOTION and entry.state == EntryState.SUCCEEDED) or (
        entry.kind == EntryKind.ROLLBACK and entry.state == EntryState.STARTED
    )


def _other_deployment_between(
    commit: str, after: str, before: str, entries: Sequence[LedgerEntry]
) -> LedgerEntry | None:
    """A deployment of another commit that started after `after` and before `before`. Only starts count:
    a deployment that began before the push may well end after it (the pipeline ran it first)."""
    return next(
        (
            entry
            for entry in entries
            if _is_deployment(entry)
            and entry.state == EntryState.STARTED
            and entry.commit != commit
            and after < entry.time < before
        ),
        None,
    )


def _why_no_cause(commit: str, env: str, start: str, entries: Sequence[LedgerEntry]) -> str:
    """The most precise reason nothing path2prod did put `commit` on `env`'s main before `start`."""
    sha = commit[:12]
    mine = sorted((entry for entry in entries if entry.commit == commit), key=lambda entry: entry.order_key)
    earlier_push = [entry for entry in mine if entry.time <= start and _puts_on_main(entry)]
    if earlier_push:
        last = earlier_push[-1]
        other = _other_deployment_between(commit, last.time, start, entries)
        return (
            f"pushed by hand: {sha} was put on {env}'s main by {last.kind} {last.execution_id} at "
            f"{last.time}, but {other.commit[:12] if other else 'another commit'} deployed since"
        )
    approved = [e for e in mine if e.kind == EntryKind.APPROVAL and e.state == EntryState.APPROVED]
    if approved and all(entry.time > start for entry in approved):
        return f"approved after it deployed ({approved[0].execution_id} at {approved[0].time})"
    if approved:
        request = approved[-1].execution_id
        pushes = [e.state for e in mine if e.kind == EntryKind.PROMOTION and e.execution_id == request]
        promotion = f"promotion {pushes[-1]}" if pushes else "no push recorded"
        return f"approved ({request}) but not pushed by the promoter ({promotion}): pushed by hand"
    asked = [entry for entry in mine if entry.kind == EntryKind.APPROVAL]
    if asked:
        return f"no approval in {env} for {sha} (request {asked[-1].execution_id} {asked[-1].state})"
    return f"no approval in {env} for {sha}"


def _upstream_successes(
    commit: str, upstream_env: str, before: str, ledgers: Mapping[str, Sequence[LedgerEntry]]
) -> list[Deployment]:
    """`commit`'s SUCCEEDED deployments in `upstream_env` that ended at or before `before`, oldest first."""
    return [
        d
        for d in deployments_in(upstream_env, ledgers.get(upstream_env, ()))
        if d.commit == commit and (d.succeeded_at or d.started_at) <= before
    ]


def _not_upstream(
    deployment: Deployment, upstream_env: str, ledgers: Mapping[str, Sequence[LedgerEntry]]
) -> str:
    """Why no upstream success backs `deployment`: there was none before it, or none at all."""
    later = [
        d
        for d in deployments_in(upstream_env, ledgers.get(upstream_env, ()))
        if d.commit == deployment.commit
    ]
    if later:
        return f"SUCCEEDED in {upstream_env} only after it deployed in {deployment.env}"
    return f"never SUCCEEDED in {upstream_env}"


def _own_step(deployment: Deployment) -> tuple[Step, ...]:
    if deployment.succeeded_at is None:
        return ()  # about to deploy (the gate's question): nothing of its own on record yet
    succeeded = Step(
        deployment.env, EntryState.SUCCEEDED, deployment.succeeded_at, deployment.execution_id or ""
    )
    return (succeeded,)


def _broken(deployment: Deployment, steps: tuple[Step, ...], problems: list[str]) -> Provenance:
    return Provenance(deployment, steps, reason="; ".join(problems), problems=tuple(problems))


def _is_deployment(entry: LedgerEntry) -> bool:
    return entry.kind == EntryKind.DEPLOYMENT

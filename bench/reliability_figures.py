"""bench/reliability.py's figures: what the ledgers, the approval requests and the dead-letter queues
hold, measured against CodePipeline's own record of every execution."""

from __future__ import annotations

import itertools
import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from bench.reliability_world import TERMINAL, cli, entries, reconcile_runs
from path2prod import ENVS
from path2prod.domain.rollback import Verdict

IN_FLIGHT = Verdict.IN_FLIGHT.value


def missing(home: Path, truth: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """What each env's ledger lacks of CodePipeline's record, and what it holds twice."""
    report: dict[str, Any] = {}
    for env in ENVS:
        held = entries(home, env)
        deployments = [e for e in held if e["kind"] == "deployment"]
        keys = Counter((e["execution_id"], e["attempt"], e["state"]) for e in deployments)
        states = {(e["execution_id"], e["state"]) for e in deployments}
        lacking = []
        for execution in truth[env]:
            final = TERMINAL.get(execution["status"])
            if final is None:
                continue
            for state in ("STARTED", final):
                if (execution["pipelineExecutionId"], state) not in states:
                    lacking.append(f"{execution['pipelineExecutionId']} {state}")
        by_reconciler = sum(1 for e in deployments if e.get("source") == "reconciler")
        report[env] = {
            "executions": len(truth[env]),
            "entries_missing": len(lacking),
            "missing": lacking[:10],
            "entries_duplicated": sum(count - 1 for count in keys.values() if count > 1),
            "entries_by_reconciler": by_reconciler,
        }
    return report


def rollbacks_per_failure(home: Path, truth: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each failure in stg and prd: its rollback decisions (STARTED, or REFUSED with a reason) and its
    waits (REFUSED because another rollback was in flight: decided again once that one ended)."""
    report: dict[str, Any] = {}
    for env in ENVS[1:]:
        held = [e for e in entries(home, env) if e["kind"] == "rollback"]
        waited = Counter(
            e["execution_id"] for e in held if e["state"] == "REFUSED" and e.get("reason") == IN_FLIGHT
        )
        decisions = Counter(
            e["execution_id"]
            for e in held
            if e["state"] == "STARTED" or (e["state"] == "REFUSED" and e.get("reason") != IN_FLIGHT)
        )
        started = Counter(e["execution_id"] for e in held if e["state"] == "STARTED")
        refused = Counter(
            str(e.get("reason")) for e in held if e["state"] == "REFUSED" and e.get("reason") != IN_FLIGHT
        )
        failed = [x["pipelineExecutionId"] for x in truth[env] if x["status"] == "Failed"]
        report[env] = {
            "failures": len(failed),
            "decided_once": sum(1 for x in failed if decisions[x] == 1),
            "undecided": sum(1 for x in failed if decisions[x] == 0),
            "decided_twice_or_more": sum(1 for x in failed if decisions[x] > 1),
            "rollbacks_started": sum(1 for x in failed if started[x]),
            "started_twice_or_more": sum(1 for x in failed if started[x] > 1),
            "waited_for_another_rollback_first": sum(1 for x in failed if waited[x]),
            "refused_because": dict(refused),
        }
    return report


def requests_per_success(home: Path, truth: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each success in dev and stg: how many approval requests the next env opened for it."""
    report: dict[str, Any] = {}
    for upstream, env in itertools.pairwise(ENVS):
        listed = json.loads(
            cli(home, "approvals", "list", "--env", env, "--limit", "100000", "--json").stdout
        )
        opened = Counter(request["upstream_execution_id"] for request in listed)
        succeeded = [x["pipelineExecutionId"] for x in truth[upstream] if x["status"] == "Succeeded"]
        report[f"{upstream}->{env}"] = {
            "successes": len(succeeded),
            "opened_once": sum(1 for x in succeeded if opened[x] == 1),
            "not_opened": sum(1 for x in succeeded if opened[x] == 0),
            "opened_twice_or_more": sum(1 for x in succeeded if opened[x] > 1),
        }
    return report


def parked(home: Path) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for env in ENVS:
        listed = json.loads(cli(home, "dlq", "list", env, "--json").stdout)
        report[env] = {
            "parked": len(listed),
            "by_format": dict(Counter(record["format"] for record in listed)),
            "by_function": dict(Counter(record.get("function") or "?" for record in listed)),
        }
    return report


def redrive(home: Path) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for env in ENVS:
        done = cli(home, "dlq", "redrive", env, "--all", "--json", check=False)
        try:
            report[env] = json.loads(done.stdout)
        except ValueError:
            report[env] = {"exit": done.returncode, "stderr": done.stderr.strip()[-300:]}
    return report


def calls_per_run(home: Path, since: dict[str, int]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for env in ENVS:
        runs = reconcile_runs(home, env)[since[env] :]
        if not runs:
            continue
        calls = [int(run["calls"]) for run in runs]
        seen = [int(run.get("executions_seen", 0)) for run in runs]
        report[env] = {
            "runs": len(runs),
            "calls_median": statistics.median(calls),
            "calls_max": max(calls),
            "executions_seen_max": max(seen),
            "appended": sum(int(run.get("appended", 0)) for run in runs),
            "published": sum(int(run.get("published", 0)) for run in runs),
            "per_run": [
                {k: run.get(k) for k in ("executions_seen", "pages", "appended", "published", "calls")}
                for run in runs
            ],
        }
    return report


def chaos_done(home: Path) -> dict[str, int]:
    """What the chaos did, by action (the runtimes' HOME/logs/chaos.jsonl)."""
    log = home / "logs" / "chaos.jsonl"
    done: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines() if log.is_file() else []:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        done[str(record.get("action", "?"))] += 1
    return dict(done)


def summary(figures: dict[str, Any]) -> str:
    """The figures docs/reliability.md quotes, for people."""
    lines = [
        f"{figures['deployments']} deployments under chaos {figures['chaos']} "
        f"(reconcile every {figures['reconcile_every_seconds']} s), load {figures['machine']['loadavg_1m']}"
        f" -> {figures['machine']['loadavg_1m_end']}, {figures['seconds']} s in all",
        f"chaos did: {figures['chaos_done']}",
    ]
    for stage in ("after_one_reconcile_period", "final"):
        for env, got in figures[stage].items():
            lines.append(
                f"{stage:<27} {env}: {got['executions']} executions, {got['entries_missing']} entries"
                f" missing, {got['entries_duplicated']} duplicated,"
                f" {got['entries_by_reconciler']} by the reconciler"
            )
    for env, got in figures["parked"].items():
        lines.append(f"parked in {env}: {got['parked']} {got['by_format']} {got['by_function']}")
    lines.append(f"ledger verify intact: {figures['verify']}")
    for env, got in figures["rollbacks"].items():
        lines.append(f"rollbacks {env}: {got}")
    for path, got in figures["approval_requests"].items():
        lines.append(f"approval requests {path}: {got}")
    for env, got in figures["reconciler"].items():
        lines.append(
            f"reconciler {env}: {got['runs']} runs, calls per run median {got['calls_median']} max "
            f"{got['calls_max']} (executions seen at most {got['executions_seen_max']})"
        )
    return "\n".join(lines)

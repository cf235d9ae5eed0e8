"""The provenance gate's figures (docs/benchmarks.md, "The provenance gate").

1. AWS API calls per decision, counted in-process under moto (the gate handler as Lambda runs it): a
   commit pushed straight to prd (refused), an approved promotion (allowed), a rollback (allowed), the
   same job delivered again, and the gate off.
2. Its latency in the sandbox: what the Build stage's entry condition added to each pipeline run, from the
   Source action's success to the job's result (the daemon logs each one). A throw-away sandbox runs
   `path2prod demo`'s story, which passes the gate in stg and prd and ends with a straight push to prd
   refused; `--home DIR` reads a sandbox of yours instead.

    .venv/bin/python bench/gate.py [--home DIR] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ is on sys.path, the checkout is not
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
import pytest
from moto import mock_aws

from bench.common import machine, progress
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.sandbox.emulator import executions_with_revisions
from path2prod.sandbox.pipeline_jobs import job_results
from tests.integration.test_gate import APPROVED, STRAIGHT, make_world, promoted
from tests.support.entries import ledger_entry
from tests.support.samples import load_event

ENTRY_CONDITION = re.compile(
    r"pipeline (\w+): entry condition of Build (passed|FAILED) for \S+ in ([\d.]+) s"
)


def calls_per_decision() -> dict[str, dict[str, int]]:
    """Each scenario's API calls, by operation."""
    figures: dict[str, dict[str, int]] = {}
    monkeypatch = pytest.MonkeyPatch()
    # The handler's own output (a log line per job, its metrics) would bury the report's.
    quiet = contextlib.redirect_stdout(io.StringIO())
    try:
        with quiet, mock_aws(), executions_with_revisions(), job_results():
            world = make_world(monkeypatch, load_event)
            refused = world.job(world.execution_of(STRAIGHT), STRAIGHT)
            world.invoke(refused)
            figures["straight push, refused (enforce)"] = dict(world.calls)
            world.invoke(refused)
            figures["the same job again (answered already)"] = dict(world.calls)
            for entry in promoted(APPROVED):
                world.ledger.append_entry(entry)
            world.invoke(world.job(world.execution_of(APPROVED), APPROVED))
            figures["approved promotion, allowed"] = dict(world.calls)
            good = "c" * 40
            for entry in _rolled_back_to(good):
                world.ledger.append_entry(entry)
            world.invoke(world.job(world.execution_of(good), good))
            figures["rollback, allowed"] = dict(world.calls)
        boto3.DEFAULT_SESSION = None
        with quiet, mock_aws(), executions_with_revisions(), job_results():
            off = make_world(monkeypatch, load_event, mode="off")
            off.invoke(off.job(off.execution_of(STRAIGHT), STRAIGHT))
            figures["gate off"] = dict(off.calls)
    finally:
        boto3.DEFAULT_SESSION = None
        monkeypatch.undo()
    return figures


def _rolled_back_to(commit: str) -> list[Any]:
    """prd's ledger: `commit` SUCCEEDED, another failed, a rollback to `commit` STARTED."""
    ran, failed = "11111111-2222-4333-8444-555555555555", "11111111-2222-4333-8444-666666666666"
    entries = [
        ledger_entry(env="prd", commit=commit, state=s, execution_id=ran, time=t)
        for s, t in (
            (EntryState.STARTED, "2026-11-05T09:00:00Z"),
            (EntryState.SUCCEEDED, "2026-11-05T09:05:00Z"),
        )
    ]
    entries += [
        ledger_entry(env="prd", commit="d" * 40, state=s, execution_id=failed, time=t)
        for s, t in (
            (EntryState.STARTED, "2026-11-05T10:00:00Z"),
            (EntryState.FAILED, "2026-11-05T10:05:00Z"),
        )
    ]
    entries.append(
        ledger_entry(
            env="prd",
            commit=commit,
            kind=EntryKind.ROLLBACK,
            state=EntryState.STARTED,
            execution_id=failed,
            time="2026-11-05T10:06:00Z",
            from_commit="d" * 40,
            trigger="automatic",
        )
    )
    return entries


def sandbox_latencies(home: Path) -> list[dict[str, Any]]:
    """Each entry condition the sandbox's pipelines ran: env, passed, seconds (the daemon's log)."""
    found = []
    for log in sorted((home / "logs").glob("daemon*.log*")):
        for match in ENTRY_CONDITION.finditer(log.read_text(errors="replace")):
            env, outcome, seconds = match.groups()
            found.append({"env": env, "passed": outcome == "passed", "seconds": float(seconds)})
    return found


def demo_sandbox_latencies() -> list[dict[str, Any]]:
    """The latencies of a throw-away sandbox that told the demo's story."""
    with tempfile.TemporaryDirectory(prefix="path2prod-bench-gate-") as folder:
        home = Path(folder) / "sandbox"
        cli = str(Path(sys.executable).parent / "path2prod")
        progress("bench: path2prod demo --keep (about a minute)")
        subprocess.run([cli, "demo", "--keep", str(home)], check=True, capture_output=True, timeout=900)
        try:
            return sandbox_latencies(home)
        finally:
            subprocess.run([cli, "local", "down", "--home", str(home)], check=False, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="read this sandbox's gate latencies (default: a demo's)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    calls = calls_per_decision()
    latencies = sandbox_latencies(args.home) if args.home else demo_sandbox_latencies()
    seconds = [entry["seconds"] for entry in latencies]
    report = {
        "machine": machine(),
        "calls_per_decision": {name: {"total": sum(c.values()), **c} for name, c in calls.items()},
        "sandbox_latency": {
            "entry_conditions": len(seconds),
            "refused": sum(not entry["passed"] for entry in latencies),
            "median_s": round(statistics.median(seconds), 3) if seconds else None,
            "max_s": max(seconds, default=None),
            "each": latencies,
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"machine: {report['machine']}")
    print("AWS API calls per gate decision (in-process, moto):")
    for name, counted in report["calls_per_decision"].items():
        detail = ", ".join(f"{op} {n}" for op, n in counted.items() if op != "total")
        print(f"  {name:<36} {counted['total']}  ({detail})")
    latency = report["sandbox_latency"]
    print(
        f"gate latency in the sandbox (Source SUCCEEDED -> job result): {latency['entry_conditions']} runs, "
        f"{latency['refused']} refused, median {latency['median_s']} s, max {latency['max_s']} s"
    )
    for entry in latencies:
        print(f"  {entry['env']}  {'passed' if entry['passed'] else 'FAILED'}  {entry['seconds']:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

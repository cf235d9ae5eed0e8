"""Benchmark of the Lambda handlers against the product brief's quality bars.

1. Cold import: each `functions/*/app.py` must import in at most 1.5x the CPU time of a bare
   `import boto3`, as Lambda would see it (median of 15 fresh interpreters each, baseline and handler
   runs interleaved; bench/imports.py says how).
2. AWS API calls: a recorded event costs at most 4 AWS API calls (the recorder, in-process under moto).
   The approval flow's functions (approvals, approval page, promoter) are counted the same way, against
   moto and real bare git repositories; their figures are documented budgets, reported, not gated.

Run it with `make bench` or `.venv/bin/python bench/handlers.py [--json]`; it exits non-zero when a
target is missed. The measuring lives in bench/imports.py, bench/api_calls.py and bench/approval_flow.py,
the tables in bench/report.py. docs/benchmarks.md explains the method and keeps the figures of the last run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from types import ModuleType

if __package__ in (None, ""):  # run as a script: bench/ is on sys.path, the checkout is not
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.api_calls import API_ENV, Scenario, ScenarioResult, recorder_scenarios, run_scenario
from bench.approval_flow import (
    FlowScenario,
    approval_page_scenarios,
    approvals_scenarios,
    promoter_scenarios,
    run_flow_scenario,
)
from bench.common import FUNCTIONS_DIR, ROOT, machine, patched_env
from bench.imports import (
    GATED_MODES,
    MODES,
    NOT_IN_LAMBDA,
    RUNS,
    Subject,
    discover_functions,
    importtime_report,
    measure_imports,
    tracing_available,
)
from bench.report import print_handlers_report
from tests.support.handlers import fresh_function_module

# AWS's documented samples live beside the checkout (CI has ../shared too); see its README.
DEFAULT_AWS_EVENTS = ROOT.parent / "shared" / "aws-events"

API_SCENARIOS: dict[str, Callable[[Path], list[Scenario] | list[FlowScenario]]] = {
    "recorder": recorder_scenarios,
    "approvals": approvals_scenarios,
    "approval_page": approval_page_scenarios,
    "promoter": promoter_scenarios,
}


def measure_api_calls(functions: list[Path], aws_events: Path) -> tuple[list[ScenarioResult], list[str]]:
    """Every function's scenarios of API_SCENARIOS; and the functions that have none."""
    results: list[ScenarioResult] = []
    without = []
    loaded: dict[str, ModuleType] = {}

    def handler_for(name: str) -> ModuleType:
        # Once per function, as Lambda imports it once per container; the flows invoke several functions.
        if name not in loaded:
            loaded[name] = fresh_function_module(name)
        return loaded[name]

    with patched_env(API_ENV):
        for function_dir in functions:
            function = function_dir.name
            scenarios = API_SCENARIOS.get(function)
            if scenarios is None:
                without.append(function)
                continue
            for scenario in scenarios(aws_events):
                if isinstance(scenario, FlowScenario):
                    results.append(run_flow_scenario(handler_for, function, scenario))
                else:
                    results.append(run_scenario(handler_for(function), function, scenario))
    return results, without


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"interpreters per subject (default {RUNS})")
    parser.add_argument(
        "--aws-events", type=Path, default=DEFAULT_AWS_EVENTS, help="AWS's samples (../shared/aws-events)"
    )
    parser.add_argument(
        "--modes",
        default=",".join(GATED_MODES),
        help=f"import modes to measure, of {', '.join(MODES)} (default: {', '.join(GATED_MODES)})",
    )
    args = parser.parse_args(argv)
    modes = tuple(mode.strip() for mode in args.modes.split(",") if mode.strip())
    if not modes or any(mode not in MODES for mode in modes):
        parser.error(f"--modes takes some of {', '.join(MODES)}")
    if not (args.aws_events / "pipeline-succeeded.json").is_file():
        parser.error(f"no AWS sample events in {args.aws_events} (pass --aws-events DIR)")

    began = time.perf_counter()
    functions = discover_functions()
    if not functions:
        parser.error(f"no handlers found under {FUNCTIONS_DIR}/*/app.py")
    tracing = tracing_available()
    hidden = tuple(name for name in NOT_IN_LAMBDA if importlib.util.find_spec(name) is not None)

    imports = measure_imports(functions, runs=args.runs, tracing=tracing, hidden=hidden, modes=modes)
    importtimes = [
        importtime_report(Subject(path.name, "app", path, mode), tracing=tracing, hidden=hidden)
        for path in functions
        for mode in modes
    ]
    api_calls, without = measure_api_calls(functions, args.aws_events)

    report = {
        "machine": machine(),
        "runs": args.runs,
        "modes": list(modes),
        "tracing": (
            "enabled (aws_xray_sdk importable, LAMBDA_TASK_ROOT set: Tracer patches like in Lambda)"
            if tracing
            else "DISABLED: aws_xray_sdk is not installed, so the figures understate Lambda's import"
        ),
        "hidden_in_lambda_mode": list(hidden),
        "imports": [asdict(r) for r in imports],
        "importtime": [asdict(t) for t in importtimes],
        "api_calls": [asdict(s) for s in api_calls],
        "functions_without_api_scenarios": without,
    }
    report["ok"] = all(r.ok for r in imports) and all(s.ok for s in api_calls)
    report["seconds"] = round(time.perf_counter() - began, 1)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_handlers_report(report)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""The benchmarks' figures as text, from the same dicts `--json` prints: `make bench`'s tables (cold
import, -X importtime, API calls) and `make bench-scale`'s (operations, memory, verify)."""

from __future__ import annotations

from typing import Any

from bench.api_calls import API_CALLS_TARGET
from bench.imports import IMPORTTIME_TOP, MODES


def yes_no(ok: bool) -> str:
    return "yes" if ok else "NO"


def spread(seconds: list[float]) -> str:
    return f"{min(seconds) * 1000:.0f}-{max(seconds) * 1000:.0f}"


def print_handlers_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(f"path2prod handler benchmark  (Python {m['python']}, {m['cpus']} CPUs, load {m['loadavg_1m']})")
    print(f"tracing during import: {report['tracing']}")
    print()
    print(f"Cold import vs bare `import boto3`: median of {report['runs']} fresh interpreters, interleaved")
    for mode, description in MODES.items():
        print(f"  {mode:7} = {description}")
    width = max([len("function"), *(len(r["function"]) for r in report["imports"])])
    print(
        f"  {'function':{width}} {'mode':7} {'handler ms':>10} {'(min-max)':>9}"
        f" {'boto3 ms':>9} {'(min-max)':>9} {'ratio':>6} {'target':>7}  ok"
    )
    for r in report["imports"]:
        print(
            f"  {r['function']:{width}} {r['mode']:7}"
            f" {r['handler_median'] * 1000:10.0f} {spread(r['handler_seconds']):>9}"
            f" {r['boto3_median'] * 1000:9.0f} {spread(r['boto3_seconds']):>9}"
            f" {r['ratio']:6.2f} {r['target']:6.1f}x  {yes_no(r['ok'])}"
        )
    for t in report["importtime"]:
        print()
        print(f"  -X importtime, {t['function']} ({t['mode']} mode, one run, {t['total_ms']:.0f} ms in all)")
        print(f"    top {IMPORTTIME_TOP} imports of app.py, cumulative:")
        for line in t["top_imports"]:
            shown = line["via"] and line["via_ms"] >= 1.0
            via = f"   (via {line['via']} {line['via_ms']:.0f} ms)" if shown else ""
            print(f"      {line['cumulative_ms']:7.1f} ms  {line['module']}{via}")
        print(f"    top {IMPORTTIME_TOP} packages by own time inside that import:")
        for cost in t["top_packages"]:
            print(f"      {cost['self_ms']:7.1f} ms  {cost['package']}")
    print()
    print(
        f"AWS API calls per event (in-process under moto; recorder: target <= {API_CALLS_TARGET};"
        " approval flow: budget, not gated)"
    )
    for s in report["api_calls"]:
        title = f"{s['function']} ({s['key']}) {s['description']}"
        if s["target"] is None:
            over = ", OVER BUDGET" if s["over_budget"] else ""
            limit = f" (budget {s['budget']}{over})"
        else:
            limit = ""
        print(f"  {title}: {s['count']}{limit} -> {s['result']}  {yes_no(s['ok'])}")
        print(f"      {', '.join(s['calls']) or '(none)'}")
        if s["git"]:
            print(f"      git round trips (not AWS API calls): {', '.join(s['git'])}")
        if s["error"]:
            print(f"      error: {s['error']}")
        elif not s["ok"]:
            print(f"      expected: {s['expected_result']}")
    for name in report["functions_without_api_scenarios"]:
        print(f"  {name}: no API-call scenarios defined in bench/handlers.py (API_SCENARIOS)")
    print()
    over = sum(1 for s in report["api_calls"] if s["over_budget"])
    if over:
        print(f"{over} approval-flow scenario(s) over their documented budget (reported, not gated)")
    print(f"took {report['seconds']:.1f} s; {'all targets met' if report['ok'] else 'TARGET MISSED'}")

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
    print(
        f"Cold import vs bare `import boto3`: CPU time of the import, median of {report['runs']} fresh"
        " interpreters, interleaved (wall clock's median for the record)"
    )
    for mode in report["modes"]:
        print(f"  {mode:7} = {MODES[mode]}")
    width = max([len("function"), *(len(r["function"]) for r in report["imports"])])
    print(
        f"  {'function':{width}} {'mode':7} {'handler ms':>10} {'(min-max)':>9}"
        f" {'boto3 ms':>9} {'(min-max)':>9} {'ratio':>6} {'target':>7}  ok   {'wall ratio':>10}"
    )
    for r in report["imports"]:
        verdict = yes_no(r["ok"]) if r["gated"] else "-  "
        wall_ratio = r["handler_wall_median"] / r["boto3_wall_median"]
        print(
            f"  {r['function']:{width}} {r['mode']:7}"
            f" {r['handler_median'] * 1000:10.0f} {spread(r['handler_seconds']):>9}"
            f" {r['boto3_median'] * 1000:9.0f} {spread(r['boto3_seconds']):>9}"
            f" {r['ratio']:6.2f} {r['target']:6.1f}x  {verdict:3}  {wall_ratio:10.2f}"
        )
    gated = [r for r in report["imports"] if r["gated"]]
    if gated:
        worst = max(gated, key=lambda r: r["ratio"])
        verdict = "met" if all(r["ok"] for r in gated) else "MISSED"
        print(f"  import verdict: {verdict} (highest ratio {worst['ratio']:.2f}, {worst['function']})")
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


def _both(small: int, big: int) -> str:
    return f"{small:,}" if small == big else f"{small:,} / {big:,}"


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:.1f} MB"


def print_scale_report(report: dict[str, Any]) -> None:
    """The figures as text (from the same dict `--json` prints)."""
    tables, load = report["tables"], report["load"]
    print(
        f"Ledger at scale: SMALL {tables['small']['entries']:,} entries, BIG {tables['big']['entries']:,} "
        f"entries (dev; median of {report['runs']} runs; "
        f"{'moto with a partition index' if report['partition_index'] else 'plain moto'})"
    )
    print(
        f"load: {load['method']}, {load['seconds']:.0f} s ({load['items']:,} items); "
        f"index built in {load['index_seconds']:.1f} s"
    )
    print()
    header = (
        f"{'operation':<24} {'result':>13} {'requests':>9} {'returned':>9} {'read':>9} "
        f"{'small ms':>9} {'big ms':>9} {'big/small':>9}  same"
    )
    print(header)
    print("-" * len(header))
    for row in report["operations"]:
        small, big = row["small"], row["big"]
        print(
            f"{row['operation']:<24} {_both(small['result'], big['result']) + ' ' + row['unit']:>13} "
            f"{_both(small['requests'], big['requests']):>9} "
            f"{_both(small['items_returned'], big['items_returned']):>9} "
            f"{_both(small['items_read'], big['items_read']):>9} "
            f"{small['median_ms']:>9.1f} {big['median_ms']:>9.1f} "
            f"{row['ratio_big_small']:>8.2f}x  {'yes' if row['same_answer'] else 'NO'}"
        )
    print()
    print("returned = items DynamoDB returned (sum of Count); read = items it read (sum of ScannedCount);")
    print("requests/returned/read show 'small / big' where they differ; same = same answer on both tables.")
    plain = report.get("plain_moto")
    if plain:
        print()
        print("moto's own Query, without the index (one run each; answers compared with the indexed run):")
        for name, check in plain.items():
            seconds = check["seconds"]
            times = ", ".join(f"{label} {value * 1000:,.0f} ms" for label, value in seconds.items())
            ratio = f" (big/small {seconds['big'] / seconds['small']:.0f}x)" if "big" in seconds else ""
            verdict = "identical" if all(check["identical"].values()) else "DIFFERENT"
            print(f"  {name:<24} {verdict} on {', '.join(check['identical'])}; {times}{ratio}")
    print()
    print("Whole table: export (csv, streamed to a counting sink) vs list() of every entry:")
    print(
        f"  {'table':<5} {'entries':>8} {'csv':>8} {'requests':>8} {'read':>8} {'export':>8}  "
        f"{'RSS growth: export':>18} {'list()':>8}  {'tracemalloc peak: export':>24} {'list()':>9}"
    )
    for mem in report["memory"]:
        print(
            f"  {mem['table']:<5} {mem['entries']:>8,} {_mb(mem['csv_bytes']):>8} {mem['requests']:>8,} "
            f"{mem['items_read']:>8,} {mem['seconds']:>6.1f} s  {_mb(mem['export_rss_growth_bytes']):>18} "
            f"{_mb(mem['list_rss_growth_bytes']):>8}  {_mb(mem['export_traced_peak_bytes']):>24} "
            f"{_mb(mem['list_traced_peak_bytes']):>9}"
        )
    print()
    for label, verify in report["verify"].items():
        for mode in ("since_checkpoint", "full"):
            found = verify[mode]
            start = f"from checkpoint #{found['from_checkpoint']:,}" if found["from_checkpoint"] else "whole"
            print(
                f"ledger verify ({label}, {mode.replace('_', '-')}, {start}): intact={found['intact']}, "
                f"{found['checked']:,} chained items, {found['requests']:,} requests, "
                f"read {found['read']:,}, {found['seconds']:.1f} s"
            )
    check = report["loader_check"]
    print(
        f"loader check: {check['entries']} entries via append_entry and via batches -> identical items "
        f"({check['items']}); append_entry {check['adapter_ms_per_entry']} ms/entry on a tiny table"
    )
    print(f"total {report['total_seconds']:.0f} s")

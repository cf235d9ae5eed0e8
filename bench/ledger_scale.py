"""Ledger at scale: a read costs what it returns, not what the table holds.

Loads two ledger tables into moto (in-process `mock_aws`, tables created from template.yaml):

- SMALL: the last 35 days of a busy dev environment (`--small` entries, default 1,000);
- BIG:   the same 35 days plus older entries over the 11 months before, `--entries` in all (default 100,000).

Then runs the auditors' reads on both: history (newest 50, one day), the entries of one commit,
where-is-commit, a one-week CSV export and 30 days of DORA metrics. Every window lies inside the last
35 days, so both tables give the same answers and only the table's size differs. Per operation it prints
the DynamoDB requests, the items DynamoDB returned (Count) and read (ScannedCount), and the wall time on
each table (median of `--runs`) with the ratio big/small. Then it exports each whole table to measure
memory (resident-set growth; tracemalloc peak on SMALL, and on BIG with `--thorough`) against list()-ing
every entry, and verifies each hash chain from a checkpoint (the default) and whole (`--full`).

moto's Query on an index scans and sorts the whole table on every request (about 5 s per request at
100,000 entries), so its own time grows with the table although DynamoDB's does not. The script therefore
gives moto a sorted partition index (see `PartitionIndex`) and checks on every run that moto answers the
measured requests identically with and without it. `--plain-moto` turns the index off.

Run it with `make bench-scale` or `.venv/bin/python bench/ledger_scale.py [--entries N] [--json]` (about
15 minutes on 2 cores, 6 of them BIG's `verify --full`, which reads every item twice). docs/benchmarks.md
("Ledger at scale", "Reads in few requests") explains the method and keeps the figures.
The parts: bench/scale_workload.py (the ledgers), scale_loading.py, moto_index.py, scale.py (the reads
measured), scale_memory.py, scale_verify.py, and report.py (the tables).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ is on sys.path, the checkout is not
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REGION, machine, progress, use_moto_credentials

use_moto_credentials()  # before anything makes a client

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from bench.moto_index import PartitionIndex, moto_keeps_no_copies  # noqa: E402
from bench.report import print_scale_report  # noqa: E402
from bench.scale import OPERATIONS, RUNS, Meter, OperationFigures, Windows, compare_plain, measure  # noqa: E402
from bench.scale_loading import check_loader, load_with_adapter, load_with_batches  # noqa: E402
from bench.scale_memory import measure_memory  # noqa: E402
from bench.scale_verify import measure_verify  # noqa: E402
from bench.scale_workload import END, workload  # noqa: E402
from path2prod.adapters.ledger_table import LedgerTable  # noqa: E402
from path2prod.domain.time import format_time  # noqa: E402
from path2prod.sandbox.template import table_definition  # noqa: E402

PLAIN_CHECK_MAX_REQUESTS = 2  # on BIG plain moto takes ~5 s a request (100k): check the short reads


# -- main ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=100_000, help="entries in BIG (default 100000)")
    parser.add_argument("--small", type=int, default=1_000, help="entries in SMALL (default 1000)")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"timed runs per operation (default {RUNS})")
    parser.add_argument(
        "--load",
        choices=("batch", "adapter"),
        default="batch",
        help="batch: BatchWriteItem of the adapter's items (default); adapter: LedgerTable.append_entry "
        "per entry (about 0.3 s per entry in moto, growing with the table)",
    )
    parser.add_argument(
        "--plain-moto", action="store_true", help="no partition index: moto scans the table per Query (slow)"
    )
    parser.add_argument(
        "--thorough",
        action="store_true",
        help="also export all of BIG under tracemalloc (about 10 more minutes)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.small < 100 or args.entries <= args.small:
        parser.error("need --small >= 100 and --entries > --small")

    began = time.perf_counter()
    work = workload(args.entries, args.small)
    windows = Windows.of(work.recent)
    index = PartitionIndex()
    meter = Meter()
    report: dict[str, Any] = {
        "machine": machine(),
        "runs": args.runs,
        "partition_index": not args.plain_moto,
        "end": format_time(END),
        "windows": asdict(windows),
    }
    with mock_aws(), index.installed(), moto_keeps_no_copies():
        client = boto3.client("dynamodb", region_name=REGION)
        client.meta.events.register("after-call.dynamodb", meter.after_call)
        progress("checking the batch loader against append_entry ...")
        report["loader_check"] = check_loader(client, work.small[:40])

        ledgers = {"small": LedgerTable("ledger-small", client), "big": LedgerTable("ledger-big", client)}
        loader = load_with_batches if args.load == "batch" else load_with_adapter
        load_began, items = time.perf_counter(), 0
        for label, events in (("small", work.small), ("big", work.big)):
            client.create_table(**table_definition(table_name=ledgers[label].table_name))
            progress(f"loading {label}: {len(events):,} entries ({args.load}) ...")
            items += loader(ledgers[label], events, label)
        load_seconds = time.perf_counter() - load_began
        index_seconds = 0.0
        if args.plain_moto:
            index.enabled = False
        else:
            index_seconds = sum(index.build(ledger.table_name) for ledger in ledgers.values())
        gc.collect()
        gc.freeze()  # the loaded tables are the server's state: keep the collector off them
        report["load"] = {
            "method": args.load,
            "seconds": round(load_seconds, 1),
            "items": items,
            "index_seconds": round(index_seconds, 2),
        }
        report["tables"] = {
            label: {"entries": len(events), "items": sum(2 if r else 1 for _, r in events) + 1}
            for label, events in (("small", work.small), ("big", work.big))
        }

        figures: list[OperationFigures] = []
        for operation in OPERATIONS:
            progress(f"measuring: {operation.name} ...")
            figures.append(measure(operation, ledgers, windows, meter, args.runs))

        if not args.plain_moto:
            plain: dict[str, Any] = {}
            for row, operation in zip(figures, OPERATIONS, strict=True):
                progress(f"comparing with plain moto: {operation.name} ...")
                check: dict[str, Any] = {"identical": {}, "seconds": {}}
                for label, ledger in ledgers.items():
                    if label == "big" and row.big.requests > PLAIN_CHECK_MAX_REQUESTS:
                        continue
                    identical, seconds = compare_plain(operation, ledger, windows, meter, index)
                    check["identical"][label] = identical
                    check["seconds"][label] = round(seconds, 4)
                    row.plain_moto_identical[label] = identical
                plain[operation.name] = check
            report["plain_moto"] = plain

        memory = []
        for label, ledger in ledgers.items():
            traced = label == "small" or args.thorough
            extra = " (then again under tracemalloc)" if traced else ""
            progress(f"exporting all of {label}, then list() of all its entries{extra} ...")
            memory.append(measure_memory(label, ledger, meter, traced=traced))

        report["verify"] = {}
        s3 = boto3.client("s3", region_name=REGION)
        for label, ledger in ledgers.items():
            progress(f"verifying {label}'s chain: from a checkpoint, then --full ...")
            report["verify"][label] = measure_verify(label, ledger, s3, REGION, meter)
        report["index_served_queries"] = index.served

    report["total_seconds"] = round(time.perf_counter() - began, 1)
    report["operations"] = [
        {
            "operation": row.name,
            "unit": row.unit,
            "same_answer": row.same_answer,
            "ratio_big_small": round(row.ratio, 2),
            "plain_moto_identical": row.plain_moto_identical,
            **{
                label: {
                    "result": side.result,
                    "requests": side.requests,
                    "items_returned": side.returned,
                    "items_read": side.read,
                    "operations": side.operations,
                    "median_ms": round(side.median_ms, 2),
                    "runs_ms": [round(s * 1000, 2) for s in side.seconds],
                }
                for label, side in (("small", row.small), ("big", row.big))
            },
        }
        for row in figures
    ]
    report["memory"] = [asdict(mem) for mem in memory]
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_scale_report(report)
    failures = [
        row.name for row in figures if not row.same_answer or not all(row.plain_moto_identical.values())
    ]
    broken = [
        label
        for label, found in report["verify"].items()
        if not (found["since_checkpoint"]["intact"] and found["full"]["intact"])
    ]
    if failures or broken:
        progress(f"FAILED: {', '.join(failures + [f'{label} chain' for label in broken])}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

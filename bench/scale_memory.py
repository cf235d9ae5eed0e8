"""Memory of a whole-table export against list()-ing every entry: resident-set growth, and the
tracemalloc peaks when asked."""

from __future__ import annotations

import contextlib
import gc
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench.scale import Meter, Sink
from bench.scale_workload import ENV
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.audit.export import export_entries

LIST_PAGE = 1000  # the untraced list() is only a memory control: bigger pages save moto's time


def _status_kib(field_name: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@contextlib.contextmanager
def peak_rss() -> Iterator[dict[str, int | None]]:
    """How far the resident set grew above its starting point (Linux: VmHWM reset by clear_refs)."""
    found: dict[str, int | None] = {"growth_bytes": None}
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # resets VmHWM to the current RSS
        before = _status_kib("VmRSS")
    except OSError:
        before = None
    yield found
    high = _status_kib("VmHWM")
    if before is not None and high is not None:
        found["growth_bytes"] = max(high - before, 0) * 1024


@dataclass
class MemoryFigures:
    table: str
    entries: int
    csv_bytes: int
    requests: int
    items_read: int
    seconds: float
    export_rss_growth_bytes: int | None  # streamed export, untraced
    list_rss_growth_bytes: int | None  # list() of every entry, untraced: what holding them all costs
    export_traced_peak_bytes: int | None = None  # streamed export under tracemalloc (None: not measured)
    list_traced_peak_bytes: int | None = None  # list() under tracemalloc (SMALL only: ~12 min on BIG)


def _traced(run: Callable[[], Any]) -> tuple[Any, int]:
    gc.collect()
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure_memory(label: str, ledger: LedgerTable, meter: Meter, *, traced: bool) -> MemoryFigures:
    """Export the whole table to a counting sink, then list() every entry instead: wall time and how far
    the resident set grew for each (untraced); when `traced`, the tracemalloc peaks of both as well."""
    sink = Sink()
    meter.reset()
    gc.collect()
    with peak_rss() as export_rss:
        began = time.perf_counter()
        rows = export_entries({ENV: ledger}, sink.stream, format="csv")
        seconds = time.perf_counter() - began
    requests, read = meter.requests, meter.read
    gc.collect()
    with peak_rss() as list_rss:
        everything = list(ledger.history(ENV, oldest_first=True, page_size=LIST_PAGE))
    listed = len(everything)
    del everything
    figures = MemoryFigures(
        label,
        rows,
        sink.chars,
        requests,
        read,
        seconds,
        export_rss["growth_bytes"],
        list_rss["growth_bytes"],
    )
    counts = [listed]
    if traced:
        traced_rows, figures.export_traced_peak_bytes = _traced(
            lambda: export_entries({ENV: ledger}, Sink().stream, format="csv")
        )
        counts.append(traced_rows)
        if label == "small":
            entries, figures.list_traced_peak_bytes = _traced(
                lambda: list(ledger.history(ENV, oldest_first=True))  # 1 MB pages, as the export
            )
            counts.append(len(entries))
            del entries
    if any(count != rows for count in counts):
        raise SystemExit(f"{label}: the export wrote {rows} rows but other reads found {counts}")
    return figures

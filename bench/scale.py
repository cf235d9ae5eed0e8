"""The auditors' reads measured on SMALL and BIG: DynamoDB requests, items returned and read, and wall
time (interleaved runs), and each read's answer compared across the two tables and with plain moto."""

from __future__ import annotations

import io
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TextIO, cast

from bench.moto_index import PartitionIndex
from bench.scale_workload import END, ENV, Execution
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.audit.export import export_entries
from path2prod.audit.metrics import env_metrics
from path2prod.audit.where import where_is
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.time import format_time

RUNS = 5


@dataclass
class Meter:
    """Counts what the DynamoDB client does, from botocore's after-call event."""

    requests: int = 0
    returned: int = 0
    read: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    responses: list[str] | None = None  # each Query's answer, when comparing with plain moto

    def reset(self, *, capture: bool = False) -> None:
        self.requests = self.returned = self.read = 0
        self.operations = Counter()
        self.responses = [] if capture else None

    def after_call(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.requests += 1
        self.operations[model.name] += 1
        if "Count" in parsed:
            self.returned += parsed["Count"]
            self.read += parsed.get("ScannedCount", parsed["Count"])
        elif "Item" in parsed:
            self.returned += 1
            self.read += 1
        if self.responses is not None:
            answer = {key: parsed.get(key) for key in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")}
            self.responses.append(json.dumps(answer, sort_keys=True, default=str))


class Sink(io.TextIOBase):
    """A text stream that only counts what is written (the export's /dev/null)."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)

    @property
    def stream(self) -> TextIO:
        return cast(TextIO, self)


@dataclass(frozen=True)
class Windows:
    """What the auditor asks, all inside the last RECENT_DAYS (so SMALL and BIG give the same answers)."""

    day: tuple[str, str]
    week: tuple[str, str]
    metrics: tuple[str, str]
    commit: str

    @classmethod
    def of(cls, recent: Sequence[Execution]) -> Windows:
        day = END - timedelta(days=10)
        second = timedelta(seconds=1)
        return cls(
            day=(format_time(day), format_time(day + timedelta(days=1) - second)),
            week=(format_time(END - timedelta(days=14)), format_time(END - timedelta(days=7) - second)),
            metrics=(format_time(END - timedelta(days=30)), format_time(END - second)),
            commit=recent[len(recent) // 2].commit,
        )


@dataclass(frozen=True)
class Operation:
    name: str
    unit: str
    run: Callable[[LedgerTable, Windows], tuple[int, Any]]  # (result size, answer to compare)


def _entries(entries: Sequence[LedgerEntry]) -> tuple[int, Any]:
    return len(entries), [entry.content for entry in entries]


def _history_newest(ledger: LedgerTable, windows: Windows) -> tuple[int, Any]:
    return _entries(list(ledger.history(ENV, limit=50)))


def _history_day(ledger: LedgerTable, windows: Windows) -> tuple[int, Any]:
    since, until = windows.day
    return _entries(list(ledger.history(ENV, since=since, until=until, oldest_first=True)))


def _commit_entries(ledger: LedgerTable, windows: Windows) -> tuple[int, Any]:
    return _entries(ledger.commit_entries(windows.commit))


def _where(ledger: LedgerTable, windows: Windows) -> tuple[int, Any]:
    found = where_is(windows.commit, {ENV: ledger}).as_dict()
    return sum(1 for value in found["envs"].values() if value), found


def _export_week(ledger: LedgerTable, windows: Windows) -> tuple[int, Any]:
    since, until = windows.week
    sink = Sink()
    rows = export_entries({ENV: ledger}, sink.stream, format="csv", since=since, until=until)
    return rows, rows


def _metrics(ledger: LedgerTable, windows: Windows) -> tuple[int, Any]:
    since, until = windows.metrics
    metrics = env_metrics(ENV, ledger, ledger, since=since, until=until).as_dict()
    return 4, metrics


OPERATIONS = (
    Operation("history, newest 50", "entries", _history_newest),
    Operation("history, one day", "entries", _history_day),
    Operation("entries of one commit", "entries", _commit_entries),
    Operation("where is one commit", "env", _where),
    Operation("export one week (csv)", "rows", _export_week),
    Operation("metrics, 30 days", "metrics", _metrics),
)


@dataclass
class Side:
    """One operation on one table."""

    result: int
    requests: int
    returned: int
    read: int
    operations: dict[str, int]
    seconds: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000


@dataclass
class OperationFigures:
    name: str
    unit: str
    small: Side
    big: Side
    same_answer: bool
    plain_moto_identical: dict[str, bool] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.big.median_ms / self.small.median_ms


def measure(
    operation: Operation, ledgers: dict[str, LedgerTable], windows: Windows, meter: Meter, runs: int
) -> OperationFigures:
    sides: dict[str, Side] = {}
    answers: dict[str, Any] = {}
    for label, ledger in ledgers.items():  # one warm-up run each, which also counts the requests
        meter.reset()
        result, answers[label] = operation.run(ledger, windows)
        sides[label] = Side(result, meter.requests, meter.returned, meter.read, dict(meter.operations))
    for run in range(runs):  # interleaved, alternating which table goes first, so noise hits both alike
        order = list(ledgers.items()) if run % 2 == 0 else list(reversed(ledgers.items()))
        for label, ledger in order:
            began = time.perf_counter()
            operation.run(ledger, windows)
            sides[label].seconds.append(time.perf_counter() - began)
    return OperationFigures(
        operation.name, operation.unit, sides["small"], sides["big"], answers["small"] == answers["big"]
    )


def compare_plain(
    operation: Operation, ledger: LedgerTable, windows: Windows, meter: Meter, index: PartitionIndex
) -> tuple[bool, float]:
    """Run `operation` with and without the partition index: moto's answers must be identical.

    Returns (identical, seconds of the plain-moto run).
    """
    meter.reset(capture=True)
    operation.run(ledger, windows)
    indexed = meter.responses
    index.enabled = False
    try:
        meter.reset(capture=True)
        began = time.perf_counter()
        operation.run(ledger, windows)
        seconds = time.perf_counter() - began
    finally:
        index.enabled = True
    return indexed == meter.responses, seconds

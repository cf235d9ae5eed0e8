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
every entry, and verifies SMALL's hash chain (BIG's too with `--thorough`).

moto's Query on an index scans and sorts the whole table on every request (about 5 s per request at
100,000 entries), so its own time grows with the table although DynamoDB's does not. The script therefore
gives moto a sorted partition index (see `PartitionIndex`) and checks on every run that moto answers the
measured requests identically with and without it. `--plain-moto` turns the index off.

Run it with `make bench-scale` or `.venv/bin/python bench/ledger_scale.py [--entries N] [--json]` (about
9 minutes on 2 cores). docs/benchmarks.md ("Ledger at scale") explains the method and keeps the figures.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import gc
import hashlib
import inspect
import io
import json
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TextIO, cast

REGION = "us-east-1"
ACCOUNT = "123456789012"
ENV = "dev"
PIPELINE = "path2prod-app"
END = datetime(2025, 6, 30, tzinfo=UTC)  # the ledgers end here; the year before it is their history
RECENT_DAYS = 35  # what SMALL holds, and what both tables share
HISTORY_DAYS = 365
FAILURE_RATE = 0.2  # about 1 execution in 5 fails
REDEPLOY_RATE = 0.15  # otherwise every execution deploys a new commit
SEED = 2025
BATCH = 25  # BatchWriteItem's maximum
RUNS = 5
PLAIN_CHECK_MAX_REQUESTS = 2  # on BIG plain moto takes ~5 s a request (100k): check the short reads
LIST_PAGE = 1000  # the untraced list() is only a memory control: bigger pages save moto's time


def _environment() -> None:
    """moto's fake credentials and a region, before anything makes a client."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        os.environ[key] = value
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(key, None)


_environment()

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.dynamodb.models import dynamodb_backends  # noqa: E402
from moto.dynamodb.models.dynamo_type import DynamoType, Item  # noqa: E402
from moto.dynamodb.models.table import Table  # noqa: E402

from path2prod.adapters.ledger_codec import head_item, serialize_item  # noqa: E402
from path2prod.adapters.ledger_table import LedgerTable  # noqa: E402
from path2prod.audit.export import export_entries  # noqa: E402
from path2prod.audit.metrics import env_metrics  # noqa: E402
from path2prod.audit.verify import verify_ledger  # noqa: E402
from path2prod.audit.where import where_is  # noqa: E402
from path2prod.domain.chain import ChainHead, link  # noqa: E402
from path2prod.domain.ledger import CommitFact, LedgerEntry  # noqa: E402
from path2prod.domain.time import format_time  # noqa: E402
from path2prod.domain.vocabulary import EntryKind  # noqa: E402
from path2prod.sandbox.template import table_definition  # noqa: E402


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the workload -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Execution:
    execution_id: str
    commit: str
    started: datetime
    ended: datetime
    state: str


def executions(count: int, start: datetime, end: datetime, rng: random.Random, label: str) -> list[Execution]:
    """`count` pipeline executions spread evenly over [start, end), each 4-25 minutes long."""
    step = (end - start) / max(count, 1)
    runs: list[Execution] = []
    commit = ""
    for index in range(count):
        if not commit or rng.random() >= REDEPLOY_RATE:
            commit = hashlib.sha1(f"{label}-{index}".encode()).hexdigest()
        started = start + step * index + step * rng.uniform(0, 0.5)
        ended = started + timedelta(seconds=rng.randint(240, 1500))
        runs.append(
            Execution(
                execution_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                commit=commit,
                started=started,
                ended=ended,
                state="FAILED" if rng.random() < FAILURE_RATE else "SUCCEEDED",
            )
        )
    return runs


def appends(runs: Sequence[Execution]) -> list[tuple[LedgerEntry, bool]]:
    """What the recorder appends, in time order: (entry, remember_commit) per state change.

    STARTED also stores the execution's commit (a chained CommitFact, as when the recorder learns it);
    the terminal state (SUCCEEDED or FAILED) follows.
    """
    events: list[tuple[LedgerEntry, bool]] = []
    for run in runs:
        started = LedgerEntry(
            env=ENV,
            commit=run.commit,
            state="STARTED",
            kind=EntryKind.DEPLOYMENT,
            execution_id=run.execution_id,
            pipeline=PIPELINE,
            attempt=1,
            time=format_time(run.started),
            start_time=format_time(run.started),
            account=ACCOUNT,
            region=REGION,
        )
        events.append((started, True))
        events.append((replace(started, state=run.state, time=format_time(run.ended)), False))
    events.sort(key=lambda event: event[0].order_key)
    return events


@dataclass(frozen=True)
class Workload:
    small: list[tuple[LedgerEntry, bool]]
    big: list[tuple[LedgerEntry, bool]]
    recent: list[Execution]


def workload(entries: int, small: int) -> Workload:
    """SMALL = the last RECENT_DAYS; BIG = older executions over the rest of the year, then the same."""
    recent_start = END - timedelta(days=RECENT_DAYS)
    recent = executions(small // 2, recent_start, END - timedelta(minutes=30), random.Random(SEED), "recent")
    older = executions(
        (entries - small) // 2,
        END - timedelta(days=HISTORY_DAYS),
        recent_start - timedelta(minutes=30),
        random.Random(SEED + 1),
        "older",
    )
    recent_appends = appends(recent)
    return Workload(small=recent_appends, big=appends(older) + recent_appends, recent=recent)


# -- loading ------------------------------------------------------------------------------------------


def records(events: Sequence[tuple[LedgerEntry, bool]]) -> Iterator[LedgerEntry | CommitFact]:
    """The chained records of `LedgerTable.append_entry(entry, remember_commit=...)`, in its order."""
    for entry, remember in events:
        yield entry
        if remember:
            yield CommitFact(entry.pipeline, entry.execution_id, entry.commit)


def load_with_batches(ledger: LedgerTable, events: Sequence[tuple[LedgerEntry, bool]], label: str) -> int:
    """Write the items `append_entry` would write, 25 per BatchWriteItem; return how many.

    Each item is built by the adapter's own `LedgerTable._item` and chained by `domain.chain.link` after
    the previous one, and the chain's head item is written last as `LedgerTable.append` writes it, so the
    table is the one the adapter builds (checked by `check_loader`) and `ledger verify` finds it intact.
    """
    total = sum(2 if remember else 1 for _, remember in events)
    head, written, shown, began = ChainHead(), 0, 0, time.perf_counter()
    chunk: list[LedgerEntry | CommitFact] = []

    def flush() -> None:
        nonlocal head, written
        linked, head = link((ledger._item(record) for record in chunk), head)
        request: dict[str, Any] = {
            ledger.table_name: [{"PutRequest": {"Item": serialize_item(item)}} for item in linked]
        }
        while request:
            request = dict(ledger.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {})
        written += len(chunk)
        chunk.clear()

    for record in records(events):
        chunk.append(record)
        if len(chunk) == BATCH:
            flush()
            if written - shown >= total // 10:
                shown = written
                elapsed = time.perf_counter() - began
                progress(f"  {label}: {written:,}/{total:,} items ({elapsed:.0f} s)")
    if chunk:
        flush()
    ledger.client.put_item(TableName=ledger.table_name, Item=head_item(head))
    return written + 1


def load_with_adapter(ledger: LedgerTable, events: Sequence[tuple[LedgerEntry, bool]], label: str) -> int:
    """The recorder's own path: `append_entry` per state change (BatchGetItem + TransactWriteItems)."""
    began = time.perf_counter()
    for index, (entry, remember) in enumerate(events, 1):
        ledger.append_entry(entry, remember_commit=remember)
        if index % max(len(events) // 10, 1) == 0:
            progress(f"  {label}: {index:,}/{len(events):,} entries ({time.perf_counter() - began:.0f} s)")
    return sum(2 if remember else 1 for _, remember in events) + 1


def scan_all(client: Any, table_name: str) -> list[str]:
    items: list[str] = []
    request: dict[str, Any] = {"TableName": table_name}
    while True:
        response = client.scan(**request)
        items.extend(json.dumps(item, sort_keys=True) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return sorted(items)
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def check_loader(client: Any, events: Sequence[tuple[LedgerEntry, bool]]) -> dict[str, Any]:
    """Load the same few executions through `append_entry` and through batches: the items must match."""
    tables = {"adapter": "ledger-check-adapter", "batch": "ledger-check-batch"}
    for name in tables.values():
        client.create_table(**table_definition(table_name=name))
    began = time.perf_counter()
    load_with_adapter(LedgerTable(tables["adapter"], client), events, "check")
    adapter_seconds = time.perf_counter() - began
    load_with_batches(LedgerTable(tables["batch"], client), events, "check")
    by_adapter, by_batch = scan_all(client, tables["adapter"]), scan_all(client, tables["batch"])
    if by_adapter != by_batch:
        raise SystemExit(
            "the batch loader does not write the items append_entry writes: fix load_with_batches"
        )
    for name in tables.values():
        client.delete_table(TableName=name)
    return {
        "entries": len(events),
        "items": len(by_batch),
        "identical": True,
        "adapter_ms_per_entry": round(adapter_seconds / len(events) * 1000, 1),
    }


# -- moto's query, given an index -----------------------------------------------------------------------


@dataclass
class Partition:
    items: list[Any]  # moto Items of one index partition, in moto's own sort order
    keys: list[Any]  # their index sort key values (str or Decimal), for bisect


class PartitionIndex:
    """Gives moto's `Table.query` on an index only the items that can be part of the answer.

    moto answers a Query on a GSI by walking every item of the table, sorting the matches and skipping
    to the exclusive start key, all per request. DynamoDB seeks in a sorted partition instead. After
    loading, `build` sorts each index partition once, with moto's own `sorted_items`. A query then runs
    moto's unchanged `Table.query`, over (through `all_items`) the slice of the partition between the key
    condition's bounds, from the exclusive start key, and at most Limit + 1 items past it: a superset
    of the items moto would look at before it stops, so moto still applies the key condition, the start
    key, Limit, the 1 MB page limit, Count, ScannedCount and LastEvaluatedKey itself. Anything else (a
    table query, a Scan, begins_with, a table not indexed) goes to moto as is. Build after the last
    write: the index does not follow later writes. `compare_plain` checks that the answers are identical.
    """

    _RANGE_BOUNDS: ClassVar[frozenset[str]] = frozenset(
        {"BETWEEN", "=", "EQ", "<", "LT", "<=", "LE", ">", "GT", ">=", "GE"}
    )

    def __init__(self) -> None:
        self.enabled = True
        self.served = 0
        self._partitions: dict[tuple[str, str, Any], Partition] = {}
        self._indexes: dict[tuple[str, str], tuple[str, str]] = {}
        self._original: Callable[..., Any] | None = None
        self._signature: inspect.Signature | None = None

    def build(self, table_name: str) -> float:
        began = time.perf_counter()
        table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(table_name)
        everything = table.all_items()
        for gsi in table.global_indexes:
            hash_keys = [key["AttributeName"] for key in gsi.schema if key["KeyType"] == "HASH"]
            range_keys = [key["AttributeName"] for key in gsi.schema if key["KeyType"] == "RANGE"]
            if len(hash_keys) != 1 or len(range_keys) != 1:
                continue
            hash_key, range_key = hash_keys[0], range_keys[0]
            groups: dict[Any, list[Any]] = {}
            for item in everything:
                value, sort_value = item.attrs.get(hash_key), item.attrs.get(range_key)
                if value is not None and sort_value is not None:
                    groups.setdefault(value, []).append(item)
            for value, members in groups.items():
                ordered = table.sorted_items(
                    [hash_key, table.hash_key_attr], [range_key, table.range_key_attr], members
                )
                keys = [item.attrs[range_key].cast_value for item in ordered]
                self._partitions[(table_name, gsi.name, value)] = Partition(ordered, keys)
            self._indexes[(table_name, gsi.name)] = (hash_key, range_key)
        return time.perf_counter() - began

    @contextlib.contextmanager
    def installed(self) -> Iterator[PartitionIndex]:
        original = Table.query
        self._original, self._signature = original, inspect.signature(original)
        index = self

        def query(table: Any, *args: Any, **kwargs: Any) -> Any:
            candidates = index.candidates(table, args, kwargs) if index.enabled else None
            if candidates is None:
                return original(table, *args, **kwargs)
            index.served += 1
            table.all_items = lambda: candidates  # this call only: the instance attribute hides the method
            try:
                return original(table, *args, **kwargs)
            finally:
                del table.all_items

        Table.query = query  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            Table.query = original  # type: ignore[method-assign]

    def candidates(self, table: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any] | None:
        assert self._signature is not None
        call = self._signature.bind(table, *args, **kwargs)
        call.apply_defaults()
        arguments = call.arguments
        index_name = arguments["index_name"]
        keys = self._indexes.get((table.name, index_name)) if index_name else None
        if keys is None or arguments["filter_kwargs"]:
            return None
        hash_key, range_key = keys
        hash_conditions = arguments["hash_key_conditions"] or []
        range_conditions = arguments["range_key_conditions"] or []
        if len(hash_conditions) != 1 or hash_conditions[0][0] != hash_key or len(range_conditions) > 1:
            return None
        partition = self._partitions.get((table.name, index_name, hash_conditions[0][1]))
        if partition is None:
            return []
        sort_keys, low, high = partition.keys, 0, len(partition.keys)
        if range_conditions:
            name, comparison, operands = range_conditions[0]
            if name != range_key or comparison not in self._RANGE_BOUNDS:
                return None
            values = [operand.cast_value for operand in operands]
            if comparison in ("BETWEEN", ">=", "GE", "=", "EQ"):
                low = bisect.bisect_left(sort_keys, values[0])
            elif comparison in (">", "GT"):
                low = bisect.bisect_right(sort_keys, values[0])
            if comparison in ("<=", "LE", "=", "EQ"):
                high = bisect.bisect_right(sort_keys, values[0])
            elif comparison in ("<", "LT"):
                high = bisect.bisect_left(sort_keys, values[0])
            elif comparison == "BETWEEN":
                high = bisect.bisect_right(sort_keys, values[1])
        forward: bool = arguments["scan_index_forward"]
        start = arguments["exclusive_start_key"]
        first_new, last_new = low, high  # where the items past the start key begin (forward) or end
        if start and range_key in start:
            start_value = DynamoType(start[range_key]).cast_value
            if forward:
                low = max(low, bisect.bisect_left(sort_keys, start_value))
                first_new = max(low, bisect.bisect_right(sort_keys, start_value))
            else:
                high = min(high, bisect.bisect_right(sort_keys, start_value))
                last_new = min(high, bisect.bisect_left(sort_keys, start_value))
        limit = arguments["limit"]
        if limit:
            if forward:
                high = min(high, first_new + limit + 1)
            else:
                low = max(low, last_new - limit - 1)
        return partition.items[low:high] if low < high else []


# -- measuring ----------------------------------------------------------------------------------------


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


@contextlib.contextmanager
def moto_keeps_no_copies() -> Iterator[None]:
    """Stop moto from keeping every Item it ever creates (`instances_tracked`, for its dashboard).

    moto appends each Item to a class-level list, including the copies it makes for every Query's
    answer, so in moto a process's memory grows with every item read: a streamed export would look as if
    it held the whole table. The stored items are unaffected.
    """

    class Untracked(list[Any]):
        def append(self, _: Any) -> None:
            pass

    saved = vars(Item)["instances_tracked"]
    setattr(Item, "instances_tracked", Untracked())  # noqa: B010 (moto declares it untyped)
    try:
        yield
    finally:
        setattr(Item, "instances_tracked", saved)  # noqa: B010


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
                lambda: list(ledger.history(ENV, oldest_first=True))  # pages of 100, as the export
            )
            counts.append(len(entries))
            del entries
    if any(count != rows for count in counts):
        raise SystemExit(f"{label}: the export wrote {rows} rows but other reads found {counts}")
    return figures


# -- report -------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "load_1min": round(load, 2) if load is not None else None,
    }


def _both(small: int, big: int) -> str:
    return f"{small:,}" if small == big else f"{small:,} / {big:,}"


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:.1f} MB"


def print_report(report: dict[str, Any]) -> None:
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
        print(
            f"ledger verify ({label}): intact={verify['intact']}, {verify['checked']:,} chained items, "
            f"{verify['requests']:,} requests, read {verify['read']:,}, {verify['seconds']:.1f} s"
        )
    check = report["loader_check"]
    print(
        f"loader check: {check['entries']} entries via append_entry and via batches -> identical items "
        f"({check['items']}); append_entry {check['adapter_ms_per_entry']} ms/entry on a tiny table"
    )
    print(f"total {report['total_seconds']:.0f} s")


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
        help="also export all of BIG under tracemalloc and verify BIG's chain (about 15 more minutes)",
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
        for label, ledger in ledgers.items():
            if label == "big" and not args.thorough:
                continue
            progress(f"verifying {label}'s chain ...")
            meter.reset()
            verify_began = time.perf_counter()
            verification = verify_ledger(ENV, ledger)
            report["verify"][label] = {
                "intact": verification.report.intact,
                "checked": verification.report.checked,
                "requests": meter.requests,
                "read": meter.read,
                "seconds": round(time.perf_counter() - verify_began, 1),
            }
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
        print_report(report)
    failures = [
        row.name for row in figures if not row.same_answer or not all(row.plain_moto_identical.values())
    ]
    broken = [label for label, found in report["verify"].items() if not found["intact"]]
    if failures or broken:
        progress(f"FAILED: {', '.join(failures + [f'{label} chain' for label in broken])}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

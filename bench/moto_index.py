"""moto, made to answer like DynamoDB at 100,000 items: a sorted partition index for its Query on an
index (`PartitionIndex`), and no copy kept of every Item it ever made (`moto_keeps_no_copies`)."""

from __future__ import annotations

import bisect
import contextlib
import inspect
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table

from bench.common import REGION


@dataclass
class Partition:
    items: list[Any]  # moto Items of one index partition, in moto's own sort order
    keys: list[Any]  # their index sort key values (str or Decimal), for bisect
    sizes: list[int]  # sizes[i]: moto's size of items[:i] (sizes[0] = 0), to bound a 1 MB page


class PartitionIndex:
    """Gives moto's `Table.query` on an index only the items that can be part of the answer.

        moto answers a Query on a GSI by walking every item of the table, sorting the matches and skipping
        to the exclusive start key, all per request. DynamoDB seeks in a sorted partition instead. After
        loading, `build` sorts each index partition once, with moto's own `sorted_items`. A query then runs
        moto's unchanged `Table.query`, over (through `all_items`) the slice of the partition between the key
        condition's bounds, from the exclusive start key, and at most Limit + 1 items past it: a superset
        of the items moto would look at before it stops, so moto still applies the key condition, the start
        key, Limit, the 1 MB page limit, Count, ScannedCount and LastEvaluatedKey itself. (At most Limit + 1
    items, and at most 1 MB and two items more: a Query without a Limit reads 1 MB pages.) Anything else (a
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
                sizes = list(itertools.accumulate((item.size() for item in ordered), initial=0))
                self._partitions[(table_name, gsi.name, value)] = Partition(ordered, keys, sizes)
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
        # With or without a Limit moto stops once a page passes 1 MB (RESULT_SIZE_LIMIT): give it the
        # items up to there and two more, not the rest of the partition (which it would sort per page).
        sizes = partition.sizes
        if forward:
            high = min(high, bisect.bisect_right(sizes, sizes[first_new] + RESULT_SIZE_LIMIT) + 2)
        else:
            low = max(low, bisect.bisect_left(sizes, sizes[last_new] - RESULT_SIZE_LIMIT) - 3)
        return partition.items[low:high] if low < high else []


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

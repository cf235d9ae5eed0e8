"""Hostile versions of real events, for the handlers' fuzz tests (Hypothesis).

A case is a real-shaped event (AWS's documented samples, the project's events/) with one thing changed:
a field removed, replaced by a value of any JSON type (strings with control characters, markup, huge
sizes, far-future and pre-epoch times, other accounts, regions and commits, numbers past any range), or
an unknown field added; or no object at all. A handler given a case may only (a) do what the event,
read as AWS means it, asks, or (b) raise InvalidEvent having written nothing. `Tally` counts what each
handler did, so `make fuzz` can print the figures docs/security.md quotes.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Enough to try every field of every sample with several values on each `make test`; `make fuzz`
# raises it for the figures in docs/security.md.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM") is None,  # the same cases on every run, unless asked
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# Values an attacker (or a bug) would try; each is also drawn at random below.
HOSTILE_STRINGS = [
    "",
    " ",
    "HACKED",
    "succeeded",
    "SUCCEEDED",
    "FAILED",
    "STARTED",
    "ABANDONED",
    "<script>x</script>",
    '=HYPERLINK("http://x","y")',
    "a\x00b",
    "\x1b[31mred\x07",
    "line\nbreak",
    "\u202eevil",
    "9999-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "2024-05-14T09:18:40",
    "2024-05-14",
    "2024-13-40T99:99:99Z",
    "1999-01-01T00:00:00Z",
    "dev",
    "stg",
    "prd",
    "123456789012",
    "999999999999",
    "us-east-1",
    "other-pipeline",
    "path2prod-app",
    "00000000-0000-0000-0000-000000000000",
    "DFD3156A8FF6BB46709B2BF6CF4A210833CB1948",
    "0000000000000000000000000000000000000000",
    "apr-00000000000000000000",
    "x" * 5000,
    "x" * 300_000,  # past EventBridge's 256 KB and close to DynamoDB's 400 KB item limit
]
HOSTILE_NUMBERS = [
    0,
    -1,
    1.5,
    2,
    101,
    10**20,
    -(10**20),
    1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    True,
]

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(HOSTILE_STRINGS),
    st.sampled_from(HOSTILE_NUMBERS),
)
JSON_VALUES = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a node inside `value` (object keys and list indices), parents before children."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield (*prefix, index)
            yield from paths(inner, (*prefix, index))


@dataclass(frozen=True)
class Mutation:
    """One change to an event: `remove` a node, `replace` it, or `add` an unknown key beside it."""

    kind: str
    path: tuple[Any, ...]
    value: Any = None

    def apply(self, event: dict[str, Any]) -> Any:
        if self.kind == "whole":
            return copy.deepcopy(self.value)
        changed = copy.deepcopy(event)
        parent = changed
        for key in self.path[:-1]:
            parent = parent[key]
        last = self.path[-1]
        if self.kind == "remove":
            del parent[last]
        elif self.kind == "replace":
            parent[last] = copy.deepcopy(self.value)
        elif isinstance(parent, dict):  # add
            parent[f"unexpected-{last}"] = copy.deepcopy(self.value)
        return changed

    def describe(self) -> str:
        shown = repr(self.value)
        return f"{self.kind} {'.'.join(map(str, self.path))} {shown[:60]}"


def mutations(event: dict[str, Any]) -> st.SearchStrategy[Mutation]:
    """One change to `event`, anywhere in it, or a non-object in its place."""
    where = st.sampled_from(list(paths(event)))
    return st.one_of(
        st.builds(Mutation, st.just("remove"), where),
        st.builds(Mutation, st.just("replace"), where, JSON_VALUES),
        st.builds(Mutation, st.just("replace"), where, st.sampled_from(HOSTILE_STRINGS)),
        st.builds(Mutation, st.just("add"), where, JSON_VALUES),
        st.builds(
            Mutation, st.just("whole"), st.just(()), st.one_of(_scalars, st.lists(_scalars, max_size=2))
        ),
    )


@dataclass
class Tally:
    """What a handler did with the cases it was given."""

    handler: str
    outcomes: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)

    def count(self, outcome: str, case: str | None = None) -> None:
        self.outcomes[outcome] += 1
        if outcome in ("wrong error type", "written on error", "written wrongly") and case:
            self.wrong.append(f"{outcome}: {case}")

    def report(self) -> None:
        """Append this tally to $FUZZ_REPORT (a JSON line), when set (make fuzz)."""
        target = os.environ.get("FUZZ_REPORT")
        if target:
            with Path(target).open("a") as file:
                file.write(json.dumps({"handler": self.handler, **self.outcomes}) + "\n")


def classify(
    invoke: Callable[[], Any],
    snapshot: Callable[[], Any],
    *,
    invalid: type[BaseException],
    retried: tuple[type[BaseException], ...] = (),
) -> tuple[str, Any, Any]:
    """Run one case: returns (outcome, before, after) where outcome is `handled`, `invalid`, `retried`,
    `wrong error type: <name>` or `written on error`."""
    before = snapshot()
    try:
        invoke()
    except invalid:
        outcome = "invalid"
    except retried:
        outcome = "retried"
    except Exception as error:
        return f"wrong error type: {type(error).__name__}: {error}"[:300], before, snapshot()
    else:
        return "handled", before, snapshot()
    after = snapshot()
    return (outcome if after == before else "written on error"), before, after

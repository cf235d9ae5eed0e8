"""The one retry loop: try an optimistic read-then-conditional-write again after each lost race.

Every writer of the ledger and of the approval requests reads afresh, decides, and writes on the
condition that nothing moved. Losing that race is normal (another event was handled at the same
moment), so the whole attempt runs again, at most MAX_TRIES times; past that the error says it gave up,
and a handler's raise lets Lambda retry the event later.
"""

from __future__ import annotations

from collections.abc import Callable

from path2prod.domain.errors import ChainMoved

# Each lost race means another writer's append just landed, so eight in a row means a burst far above
# one account's pipeline events; past it, Lambda's own retry (with its backoff) is the better wait.
MAX_TRIES = 8


def retry_lost_races[T](
    attempt: Callable[[], T],
    *,
    gave_up: str,
    lost: type[Exception] | tuple[type[Exception], ...] = ChainMoved,
    tries: int = MAX_TRIES,
) -> T:
    """`attempt()`, run again after each `lost` race, at most `tries` times; then ChainMoved(gave_up)
    chained to the last race lost."""
    last: Exception | None = None
    for _ in range(tries):
        try:
            return attempt()
        except lost as race:
            last = race
    raise ChainMoved(f"{gave_up} (gave up after {tries} tries)") from last

"""What an event handler does with an event it refuses: count it, log why, and raise it on.

Raising keeps Lambda's semantics (retries, then the dead-letter queue keeps the event and the error
message); the `EventsRefused` metric makes forged or malformed events visible to an alarm, and the log
line names the field without echoing the event's values.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from path2prod.domain.errors import InvalidEvent


@contextmanager
def refusals_counted(metrics: Any, logger: Any) -> Iterator[None]:
    """Around a handler's use case: an InvalidEvent is counted and logged, then raised on."""
    from aws_lambda_powertools.metrics import MetricUnit

    try:
        yield
    except InvalidEvent as error:
        metrics.add_metric(name="EventsRefused", unit=MetricUnit.Count, value=1)
        logger.warning("event refused", extra={"field": error.field, "reason": str(error)})
        raise

"""What a function's use case did with one event: its answer, what to count, what to log.

The use case decides what happened (a request opened, a commit pushed); the handler only reports it,
so a redelivered event that changed nothing counts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Handled:
    """A use case's outcome: the handler's return value, the metrics it earned, and one log line."""

    response: dict[str, Any]
    counted: tuple[str, ...] = ()
    message: str | None = None
    logged: dict[str, Any] = field(default_factory=dict)

    def reported(self, metrics: Any, logger: Any) -> dict[str, Any]:
        """Count and log the outcome with the handler's Powertools Metrics and Logger; the response."""
        from aws_lambda_powertools.metrics import MetricUnit

        for name in self.counted:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        if self.message is not None:
            logger.info(self.message, extra=self.logged)
        return self.response

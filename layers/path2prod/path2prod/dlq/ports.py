"""What the dead-letter tooling needs from the world: the queue, and a way to run a handler once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class ParkedMessages(Protocol):
    """An env's dead-letter queue, read without consuming it."""

    def hold_all(self) -> list[dict[str, Any]]:
        """Every message, received and held (invisible to others) until released or deleted."""
        ...

    def release(self, receipt_handles: Sequence[str]) -> None:
        """Make held messages visible again, at once."""
        ...

    def delete(self, receipt_handle: str) -> None: ...


@dataclass(frozen=True)
class Invocation:
    """How one synchronous run of a handler ended: its result, or the error it raised."""

    ok: bool
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None

    @property
    def error(self) -> str:
        return ": ".join(part for part in (self.error_type, self.error_message) if part) or "failed"


class HandlerInvoker(Protocol):
    """Runs the handler a parked event was meant for, once, synchronously, with that event."""

    def invoke(self, function: str, function_name: str | None, event: Any) -> Invocation:
        """`function` is the short name ("recorder"); `function_name` the full name or ARN when known."""
        ...

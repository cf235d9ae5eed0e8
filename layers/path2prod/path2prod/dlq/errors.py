"""What `path2prod dlq` refuses or cannot do."""

from __future__ import annotations

from path2prod.domain.errors import Path2ProdError


class DeadLetterError(Path2ProdError):
    """Base of the dead-letter tooling's errors."""


class UnknownParkedEvent(DeadLetterError, LookupError):
    """No parked message has that id (or id prefix), or the prefix names more than one."""


class RedriveUnavailable(DeadLetterError):
    """The handler a parked event was meant for cannot be reached (the sandbox is down, no function)."""

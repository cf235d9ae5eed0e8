"""The rollback's errors: what stops a rollback, automatic or manual (the CLI shows their messages)."""

from __future__ import annotations

from path2prod.domain.errors import Path2ProdError


class RollbackError(Path2ProdError):
    """Base of the errors the rollback's use cases raise."""


class RollbackPushFailed(RollbackError):
    """The push of a rollback failed; raised so the event is retried (alerted after the last try)."""


class NotRollbackable(RollbackError, ValueError):
    """A manual rollback target that never SUCCEEDED in the env (or nothing to roll back to)."""


class RollbackInFlight(RollbackError):
    """A manual rollback while another rollback of the env is in flight."""


class NothingToTakeOver(RollbackError):
    """A take-over while no rollback of the env is in flight."""

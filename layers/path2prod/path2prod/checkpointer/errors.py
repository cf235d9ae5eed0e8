"""The checkpointer's errors."""

from __future__ import annotations

from path2prod.domain.errors import Path2ProdError


class CheckpointerError(Path2ProdError):
    """Base of the errors the checkpointer itself would raise (it raises none of its own today: a
    failed read or write is the ledger's or S3's error, raised so the schedule's next run tries again)."""

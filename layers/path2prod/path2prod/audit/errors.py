"""What the audit commands raise of their own."""

from __future__ import annotations

from path2prod.domain.errors import Path2ProdError


class AuditError(Path2ProdError):
    """Base of the audit commands' own errors."""


class NotAFullCommit(AuditError, ValueError):
    """A commit named by anything but its full sha (the ledger keys commits by the full sha)."""

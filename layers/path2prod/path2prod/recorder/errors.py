"""The recorder's errors.

What it refuses or cannot do yet is named by the layers it uses, and a handler's raise is what makes
Lambda retry or park the event: InvalidEvent and CommitMismatch (a refused event), CommitNotYetKnown
(retry later) from domain/errors.py; ChainMoved once the ledger kept moving past every retry
(domain/retry.py); the ledger adapter's errors from adapters/errors.py.
"""

from __future__ import annotations

from path2prod.domain.errors import Path2ProdError


class RecorderError(Path2ProdError):
    """Base of the errors the recorder itself would raise (it raises none of its own today)."""

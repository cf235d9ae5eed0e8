"""The reconciler's errors.

It refuses executions it cannot record (a revision that is no commit, a commit the ledger knows
otherwise) without raising: each is counted and logged, and the run goes on. What it raises is the
layers' own: the ledger adapter's errors (adapters/errors.py), PipelineNotFound, PublishFailed, and
ChainMoved once the ledger kept moving past every retry (domain/retry.py); the schedule's next run (or
Lambda's retry) tries again.
"""

from __future__ import annotations

from path2prod.domain.errors import Path2ProdError


class ReconcilerError(Path2ProdError):
    """Base of the errors the reconciler itself would raise (it raises none of its own today)."""

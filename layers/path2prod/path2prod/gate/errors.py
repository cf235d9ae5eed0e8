"""The gate's errors."""

from __future__ import annotations

from path2prod.domain.errors import Path2ProdError


class GateError(Path2ProdError):
    """Base of the errors the gate itself would raise. It raises none of its own today: whatever it
    cannot read or confirm is answered to CodePipeline as a job result, never raised (a raised error
    leaves the job unanswered until CodePipeline times it out)."""

"""What the approvals use cases raise of their own (the rules' refusals are domain/errors.py's)."""

from __future__ import annotations

from path2prod.domain.errors import Path2ProdError


class ApprovalsError(Path2ProdError):
    """Base of the approvals feature's own errors."""


class NoUpstreamEnv(ApprovalsError):
    """The first env was wired with an opener: nothing is promoted into it (a deployment error)."""


class PromotionPushFailed(ApprovalsError):
    """The approved commit could not be pushed; raised so the event is retried (the request keeps it)."""

"""Errors the adapters raise: AWS and git failures translated at the boundary into named facts."""

from __future__ import annotations

from path2prod.domain.errors import Path2ProdError


class AdapterError(Path2ProdError):
    """The outside world (DynamoDB, CodePipeline, EventBridge, SNS, a git remote) failed or refused."""

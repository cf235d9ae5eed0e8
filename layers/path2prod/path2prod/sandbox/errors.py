"""What the sandbox refuses, under one base."""

from __future__ import annotations

from path2prod.domain.errors import Path2ProdError


class SandboxError(Path2ProdError):
    """The sandbox cannot do what was asked (not created, not running, ...)."""


class TemplateError(SandboxError):
    """template.yaml is missing or lacks what the sandbox needs."""

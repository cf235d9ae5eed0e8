"""What the CLI refuses, under one base. The ValueError mixins stay: callers (and click's error
handling in cli/main.py) catch them as bad input."""

from __future__ import annotations

from path2prod.domain.errors import Path2ProdError


class CliError(Path2ProdError):
    """The CLI cannot do what was asked."""


class ExportOptionsConflict(CliError, ValueError):
    """Options of `ledger export` that do not go together."""


class DemoFailed(CliError):
    """The demo's story did not happen as it should."""


class IdentityRequired(CliError, ValueError):
    """Who is answering cannot be told (the sandbox has no IAM identities: --as names them)."""


class AskedTooLate(CliError, ValueError):
    """A newer commit's request is open or approved: asking for an older one now would be set aside."""


class UnknownCommit(CliError, ValueError):
    """A commit name that no repository within reach resolves, or resolves to more than one commit."""


class IdentityRefused(CliError, ValueError):
    """--as against AWS, where who acted is the caller's IAM identity."""

"""Errors the adapters raise: AWS and git failures translated at the boundary into named facts.

Every adapter error derives from AdapterError; the git adapter's derive from GitRemoteError too, so a
caller can treat every git failure alike. Where DynamoDB's ClientErrors become the ledger's errors:
ledger_errors.py; git's: git_remote.py `_remote_errors()`.
"""

from __future__ import annotations

from path2prod.domain.errors import Path2ProdError


class AdapterError(Path2ProdError):
    """The outside world (DynamoDB, CodePipeline, EventBridge, SNS, a git remote) failed or refused."""


# -- the ledger table (DynamoDB) ----------------------------------------------------------------------


class LedgerTampered(AdapterError):
    """An item where path2prod would read or append one is not a valid link of the chain."""


class LedgerUnavailable(AdapterError):
    """The ledger table cannot be read or written (missing table, no permission)."""


class LedgerThrottled(AdapterError):
    """DynamoDB throttled a transaction: nothing was written; retry later (a handler raises, so
    Lambda retries the event), not at once as after a lost race."""


class LedgerWriteRejected(AdapterError):
    """DynamoDB refused a transaction for what it holds (a validation error, an item collection past
    its size limit): nothing was written, and reading again and retrying would fail the same way."""


# -- CodePipeline and EventBridge -----------------------------------------------------------------------


class PipelineNotFound(AdapterError):
    """The pipeline named by an event does not exist in this account (or this role may not see it)."""


class PipelineStartRefused(AdapterError):
    """CodePipeline would not start the execution (a conflict, a limit, or a request it rejects)."""


class PublishFailed(AdapterError):
    """EventBridge refused a domain event; raising lets Lambda retry the whole record."""


# -- git remotes ----------------------------------------------------------------------------------------


class GitRemoteError(AdapterError):
    """Base of the errors the git adapter raises; catch it to treat every git failure alike."""


class InvalidCommitId(GitRemoteError, ValueError):
    """Not a full hexadecimal commit id (abbreviations are not resolved here)."""


class CommitNotFound(GitRemoteError, LookupError):
    """The commit is not in the repository (after fetching everything its refs reach)."""


class NotFastForward(GitRemoteError):
    """The remote branch has commits the pushed commit does not contain, and force was not given."""

    def __init__(self, branch: str, remote_head: str, commit: str) -> None:
        super().__init__(f"pushing {commit} to {branch!r} is not a fast-forward of its head {remote_head}")
        self.branch = branch
        self.remote_head = remote_head
        self.commit = commit


class PushRejected(GitRemoteError):
    """The remote refused the push (a hook, a branch protection, a concurrent update, a bad pack)."""

    def __init__(self, branch: str, reason: str) -> None:
        super().__init__(f"the remote refused the update of {branch!r}: {reason}")
        self.branch = branch
        self.reason = reason


class RemoteUnavailable(GitRemoteError):
    """The remote could not be reached, refused the credentials, or is not a git repository."""

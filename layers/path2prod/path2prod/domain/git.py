"""What a git repository tells path2prod: the facts of a commit, and what a push did to a branch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PushResult:
    """What a push did to the remote branch: `old` is None when the branch did not exist."""

    old: str | None
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass(frozen=True)
class CommitInfo:
    """The facts about a commit that approvals and alerts show people."""

    sha: str
    author_name: str
    author_email: str
    message: str  # first line only
    authored_at: str  # ISO-8601 UTC, seconds, "Z"

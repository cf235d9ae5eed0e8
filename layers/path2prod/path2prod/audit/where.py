"""Where is a commit: its last state in each env, and whether it is what runs there now."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from path2prod.audit.entries import request_id_of
from path2prod.audit.errors import NotAFullCommit
from path2prod.audit.ports import CommitHistory, EnvHistory
from path2prod.domain.vocabulary import EntryKind, EntryState

_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# `current` stops at the newest SUCCEEDED deployment, usually within the first few entries.
_CURRENT_PAGE = 10


def full_commit(value: str) -> str:
    """The full sha (40 hex digits, or 64 for SHA-256 repos), lowercased; NotAFullCommit otherwise."""
    sha = value.strip().lower()
    if not _FULL_SHA.fullmatch(sha):
        raise NotAFullCommit(
            f"{value!r} is not a full commit sha: pass all 40 hex digits (git rev-parse {value or 'HEAD'})"
        )
    return sha


@dataclass(frozen=True)
class CommitInEnv:
    """The commit's last entry in one env, and whether that env's newest SUCCEEDED deployment is it.

    `execution_id` as stored; `request_id` names the approval request when that entry is an approval
    or promotion (audit/entries.py), else None."""

    state: str
    kind: str
    time: str
    execution_id: str
    current: bool
    request_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CommitWhereabouts:
    commit: str
    envs: dict[str, CommitInEnv | None]

    def as_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "envs": {env: found.as_dict() if found else None for env, found in self.envs.items()},
        }


def where_is(commit: str, ledgers: Mapping[str, CommitHistory]) -> CommitWhereabouts:
    """For each env of `ledgers` (in its order): the commit's last entry there, or None if it never ran.

    Two small Queries per env: the commit's newest entry, then (only if there is one) the env's history
    newest first until its newest SUCCEEDED deployment. An unreachable ledger raises; it is not skipped.
    """
    sha = full_commit(commit)
    return CommitWhereabouts(sha, {env: _in_env(sha, env, ledger) for env, ledger in ledgers.items()})


def _in_env(sha: str, env: str, ledger: CommitHistory) -> CommitInEnv | None:
    last = ledger.commit_entries(sha, newest_first=True, limit=1)
    if not last:
        return None
    entry = last[0]
    return CommitInEnv(
        state=entry.state,
        kind=entry.kind,
        time=entry.time,
        execution_id=entry.execution_id,
        current=running_commit(env, ledger) == sha,
        request_id=request_id_of(entry),
    )


def running_commit(env: str, ledger: EnvHistory) -> str | None:
    """The commit of env's newest SUCCEEDED deployment: what runs there now."""
    for entry in ledger.history(env, page_size=_CURRENT_PAGE):
        if entry.kind == EntryKind.DEPLOYMENT and entry.state == EntryState.SUCCEEDED:
            return entry.commit
    return None

"""What approvers review: the commits a promotion brings, the files it changes, who wrote them, and what
of it a request keeps (capped, so its DynamoDB item stays far below the 400 KB limit). Pure, no git."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

# What a request keeps of its promoted range, so its DynamoDB item stays far below the 400 KB limit
# whatever the upstream repository holds: at most 50 commits shown, subjects and names cut at 200
# characters, at most 100 distinct authors' emails (more than that and nobody can be cleared: the range
# counts as not complete). An email longer than RFC 5321 allows (320) is no address anyone approves
# with, but it is not kept either, so the range counts as not complete. At most 100 changed files are
# kept (paths cut at 300 characters), with the totals over all of them. Worst case, with 5 answers and
# their comments, about 150 KB (tests/unit/test_approval_request_item.py measures it).
MAX_COMMITS_SHOWN = 50
MAX_SUBJECT_LENGTH = 200
MAX_AUTHORS = 100
MAX_EMAIL_LENGTH = 320
MAX_FILES_SHOWN = 100
MAX_PATH_LENGTH = 300


@dataclass(frozen=True)
class PromotedCommit:
    """One commit a promotion brings to the target env, as git has it."""

    sha: str
    author_name: str
    author_email: str
    committer_email: str
    subject: str  # the message's first line


@dataclass(frozen=True)
class ChangedFile:
    """One file the promotion changes, and by how many lines; `added`/`removed` None when they were not
    counted (a binary file, one too large to compare, or past the diff's byte budget)."""

    path: str
    status: str  # A (added), M (modified), D (deleted), T (type changed)
    added: int | None
    removed: int | None


@dataclass(frozen=True)
class DiffStat:
    """The files a promotion changes (what the env runs now against the candidate), in path order, at
    most the diff's bound; `file_count` counts them all, `added`/`removed` total the lines counted, and
    `complete` is False when some file's lines were not counted or the list stops early."""

    files: tuple[ChangedFile, ...]
    file_count: int
    added: int
    removed: int
    complete: bool = True


@dataclass(frozen=True)
class PromotedRange:
    """What promoting a candidate brings: the commits reachable from it and not from `target_head`
    (what the target's main names now; None when it names nothing), newest first. `truncated` when
    git's walk stopped at its bound before the end: then `commits` is not all of them.
    `target_subject` is the first line of `target_head`'s message and `diffstat` the files changed from
    it to the candidate; both None when the upstream repository does not hold `target_head`."""

    target_head: str | None
    commits: tuple[PromotedCommit, ...]
    truncated: bool = False
    target_subject: str | None = None
    diffstat: DiffStat | None = None


@dataclass(frozen=True)
class Author:
    """Someone who wrote or committed a promoted commit (email lowercased), and the newest such commit."""

    email: str
    commit: str


def range_fields(promoted: PromotedRange) -> dict[str, Any]:
    """The request's fields that record `promoted`, capped to what an item can hold."""
    authors, all_known = promoted_authors(promoted.commits)
    return {
        "target_head": promoted.target_head,
        "authors": authors,
        "commits": tuple(
            PromotedCommit(
                sha=c.sha,
                author_name=c.author_name[:MAX_SUBJECT_LENGTH],
                author_email=c.author_email[:MAX_EMAIL_LENGTH],
                committer_email=c.committer_email[:MAX_EMAIL_LENGTH],
                subject=c.subject[:MAX_SUBJECT_LENGTH],
            )
            for c in promoted.commits[:MAX_COMMITS_SHOWN]
        ),
        "commit_count": len(promoted.commits),
        "range_complete": all_known and not promoted.truncated,
        "target_subject": (
            promoted.target_subject[:MAX_SUBJECT_LENGTH] if promoted.target_subject is not None else None
        ),
        **(diff_fields(promoted.diffstat) if promoted.diffstat is not None else {}),
    }


def diff_fields(diffstat: DiffStat) -> dict[str, Any]:
    """The request's fields that record `diffstat`, capped to what an item can hold."""
    kept = diffstat.files[:MAX_FILES_SHOWN]
    return {
        "files": tuple(replace(f, path=f.path[:MAX_PATH_LENGTH]) for f in kept),
        "file_count": diffstat.file_count,
        "lines_added": diffstat.added,
        "lines_removed": diffstat.removed,
        "files_complete": diffstat.complete,
    }


def promoted_authors(commits: Iterable[PromotedCommit]) -> tuple[tuple[Author, ...], bool]:
    """Everyone who wrote or committed one of `commits` (newest first), once each, lowercased, with the
    newest commit they wrote or committed; and whether that is everyone (at most MAX_AUTHORS, none with
    an email too long to keep). An empty email names nobody and is left out."""
    authors: dict[str, Author] = {}
    all_known = True
    for commit in commits:
        for email in (commit.author_email, commit.committer_email):
            key = email.strip().casefold()
            if not key or key in authors:
                continue
            if len(key) > MAX_EMAIL_LENGTH or len(authors) >= MAX_AUTHORS:
                all_known = False
                continue
            authors[key] = Author(email=key, commit=commit.sha)
    return tuple(authors.values()), all_known

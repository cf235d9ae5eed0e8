"""Reading a fetched repository: a commit's facts, the range a promotion brings, what it changes.

The approvals function reads these from the upstream commit it fetched (adapters/git_remote.py) to
show approvers what they decide on. dulwich is imported inside each function, as in git_remote.py,
so that importing this module costs a handler nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from path2prod.adapters.errors import CommitNotFound
from path2prod.adapters.git_remote import commit_id, is_commit
from path2prod.domain.git import CommitInfo
from path2prod.domain.review_facts import ChangedFile, DiffStat, PromotedCommit, PromotedRange
from path2prod.domain.time import format_time

if TYPE_CHECKING:
    from dulwich.objects import Commit, ObjectID
    from dulwich.repo import Repo


# How many commits promoted_range reads at most. The approvals function has 60 s and 512 MB, and a
# walk keeps every commit it read in memory until it ends: 10,000 commits took 0.55-0.7 s from a pack
# here (3 runs, 2 CPUs at load 1.8) and the whole process stayed under 45 MB, so the bound keeps the
# walk far inside both whatever the upstream repository holds. A longer range (a first promotion of a
# long history, or a target whose head the upstream repo lacks) is reported truncated instead.
MAX_PROMOTED_COMMITS = 10_000

# The diffstat's bounds. Trees are compared whole (dulwich's tree_changes reads only trees, cheap), but
# lines are counted only for the first MAX_DIFF_FILES changed files, only in blobs up to
# MAX_DIFF_BLOB_BYTES each and MAX_DIFF_BYTES in all; past them a file counts without its lines and the
# diffstat says it is not complete. difflib's matcher (the one dulwich's own unified_diff uses) is
# quadratic in the worst case: these bounds keep it to about a second of the function's 60 s.
MAX_DIFF_FILES = 300
MAX_DIFF_BLOB_BYTES = 512 * 1024
MAX_DIFF_BYTES = 4 * 1024 * 1024


def commit_info(local_repo: Path, commit: str) -> CommitInfo:
    """Author, first message line and author time of `commit` in `local_repo` (e.g. a fetch_commit)."""
    from dulwich.objects import Commit
    from dulwich.repo import Repo

    sha = commit_id(commit)
    with Repo(str(local_repo)) as repo:
        try:
            obj = repo.object_store[sha]
        except KeyError:
            obj = None
        if not isinstance(obj, Commit):
            raise CommitNotFound(f"commit {commit} is not in {local_repo}")
        name, email = _split_identity(obj.author.decode(obj.encoding or "utf-8", "replace"))
        message = obj.message.decode(obj.encoding or "utf-8", "replace")
        authored = datetime.fromtimestamp(obj.author_time, UTC)
    return CommitInfo(
        sha=sha.decode("ascii"),
        author_name=name,
        author_email=email,
        message=message.strip().split("\n", 1)[0].strip(),
        authored_at=format_time(authored),
    )


def promoted_range(
    local_repo: Path, commit: str, target_head: str | None, *, limit: int = MAX_PROMOTED_COMMITS
) -> PromotedRange:
    """The commits promoting `commit` brings to a branch at `target_head`: those reachable from `commit`
    in `local_repo` (e.g. a fetch_commit) and not from `target_head`, newest first, at most `limit`.

    A `target_head` of None (an empty branch), or one `local_repo` does not hold (the target has
    commits upstream never had), excludes nothing: every commit reachable from `commit` counts, up to
    `limit`. Raises CommitNotFound when `local_repo` lacks `commit`.
    """
    from dulwich.repo import Repo
    from dulwich.walk import Walker

    from path2prod.adapters.git_depth import shallow_parents

    sha = commit_id(commit)
    head = commit_id(target_head) if target_head else None
    commits: list[PromotedCommit] = []
    truncated = False
    target_subject: str | None = None
    stat: DiffStat | None = None
    with Repo(str(local_repo)) as repo:
        if not is_commit(repo, sha):
            raise CommitNotFound(f"commit {commit} is not in {local_repo}")
        head_known = head is not None and is_commit(repo, head)
        exclude = [head] if head is not None and head_known else []
        if head is None or head_known:
            # What runs now, and what changes: only from a head this repository holds (else unknown).
            head_commit = _commit(repo, head) if head is not None else None
            target_subject = _subject(head_commit) if head_commit is not None else None
            old_tree = head_commit.tree if head_commit is not None else None
            stat = diffstat(repo, old_tree, _commit(repo, sha).tree)
        # A shallow copy (git_depth) ends at its boundary: a range that reaches it is not complete.
        shallow = repo.get_shallow()
        walker = Walker(repo.object_store, [sha], exclude=exclude, get_parents=shallow_parents(repo))  # type: ignore[arg-type]
        for entry in walker:
            if len(commits) == limit:
                truncated = True
                break
            found = entry.commit
            truncated = truncated or found.id in shallow
            encoding = found.encoding or "utf-8"
            author_name, author_email = _split_identity(found.author.decode(encoding, "replace"))
            _, committer_email = _split_identity(found.committer.decode(encoding, "replace"))
            commits.append(
                PromotedCommit(
                    sha=found.id.decode("ascii"),
                    author_name=author_name,
                    author_email=author_email,
                    committer_email=committer_email,
                    subject=_subject(found),
                )
            )
    return PromotedRange(
        target_head=head.decode("ascii") if head else None,
        commits=tuple(commits),
        truncated=truncated,
        target_subject=target_subject,
        diffstat=stat,
    )


def diffstat(repo: Repo, old_tree: ObjectID | None, new_tree: ObjectID) -> DiffStat:
    """The files that differ between two trees of `repo` (None: the empty tree), with the lines each
    adds and removes, as `git diff --stat` counts them (a rename counts as a deletion and an addition;
    a binary file has no lines).

    Bounded (MAX_DIFF_FILES, MAX_DIFF_BLOB_BYTES, MAX_DIFF_BYTES): past a bound a file is counted
    without its lines, or past MAX_DIFF_FILES only counted, and the result is not `complete`.
    """
    from dulwich.diff_tree import tree_changes
    from dulwich.patch import is_binary

    files: list[ChangedFile] = []
    file_count = added_total = removed_total = budget_used = 0
    complete = True
    for change in tree_changes(repo.object_store, old_tree, new_tree):
        file_count += 1
        if len(files) >= MAX_DIFF_FILES:
            complete = False
            continue
        old, new = change.old, change.new
        path = (
            new.path if new is not None and new.path is not None else (old.path if old is not None else None)
        )
        status = {"add": "A", "delete": "D", "modify": "M"}.get(change.type, "T")
        old_blob = _blob_data(repo, old.sha, old.mode) if old is not None else b""
        new_blob = _blob_data(repo, new.sha, new.mode) if new is not None else b""
        added: int | None = None
        removed: int | None = None
        if (
            old_blob is None
            or new_blob is None
            or budget_used + len(old_blob) + len(new_blob) > MAX_DIFF_BYTES
        ):
            complete = False  # a submodule, a blob too large, or past the budget: lines unknown
        elif not (is_binary(old_blob) or is_binary(new_blob)):  # a binary file has no lines, as in git
            budget_used += len(old_blob) + len(new_blob)
            added, removed = _line_changes(old_blob, new_blob)
            added_total += added
            removed_total += removed
        files.append(ChangedFile(path=_decode_path(path or b""), status=status, added=added, removed=removed))
    return DiffStat(
        files=tuple(files), file_count=file_count, added=added_total, removed=removed_total, complete=complete
    )


def _blob_data(repo: Repo, sha: ObjectID | None, mode: int | None) -> bytes | None:
    """A blob's bytes (b"" for none); None for a submodule or a blob over MAX_DIFF_BLOB_BYTES."""
    from dulwich.objects import S_ISGITLINK, Blob

    if sha is None:
        return b""
    if mode is not None and S_ISGITLINK(mode):
        return None  # a submodule's commit: not in this repository
    found = repo.object_store[sha]
    if not isinstance(found, Blob) or found.raw_length() > MAX_DIFF_BLOB_BYTES:
        return None
    return found.as_raw_string()


def _line_changes(old: bytes, new: bytes) -> tuple[int, int]:
    """(lines added, lines removed) from `old` to `new`."""
    from difflib import SequenceMatcher

    a, b = old.splitlines(), new.splitlines()
    added = removed = 0
    for tag, i1, i2, j1, j2 in SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            removed += i2 - i1
        if tag in ("replace", "insert"):
            added += j2 - j1
    return added, removed


def _decode_path(path: bytes) -> str:
    return path.decode("utf-8", "replace")


def _subject(commit: Commit) -> str:
    """A commit message's first line."""
    message: str = commit.message.decode(commit.encoding or "utf-8", "replace").strip()
    return message.split("\n", 1)[0].strip()


def _commit(repo: Repo, sha: ObjectID) -> Commit:
    """The commit `sha` (known to be one: checked by _is_commit)."""
    from dulwich.objects import Commit

    found = repo.object_store[sha]
    if not isinstance(found, Commit):
        raise CommitNotFound(f"{sha.decode('ascii')} is not a commit")
    return found


def _split_identity(identity: str) -> tuple[str, str]:
    name, _, rest = identity.partition("<")
    return name.strip(), rest.split(">", 1)[0].strip()

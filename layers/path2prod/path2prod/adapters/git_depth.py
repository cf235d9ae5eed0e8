"""Git by need: how much history a local copy holds, and the bound on Lambda's /tmp cache of copies.

A decision needs a commit and its ancestry down to what the other side has, never the whole
repository: a promotion needs the candidate's commits that the target's main lacks (the range shown to
approvers, the objects pushed), a commit's facts need that commit alone. git_remote.fetch_commit
fetches shallow (`depth`) and deepens until `history_reaches` says the copy holds that much, so a cold
Lambda reads a few commits and one tree, not years of history (issue 13: 11.5 s and a full copy in
/tmp at 2,000 commits). dulwich is imported inside the functions, as in git_remote.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Set

    from dulwich.client import GitClient
    from dulwich.objects import Commit, ObjectID
    from dulwich.pack import UnpackedObject
    from dulwich.refs import Ref
    from dulwich.repo import Repo

# The first depth of a fetch down to a known commit, and the factor each deepening multiplies it by.
# A promotion brings a handful of commits (what ran upstream since the last promotion): 32 covers it
# in one round trip, and x8 reaches 16,384 in four more, past promoted_range's bound of 10,000.
FIRST_DEPTH = 32
DEPTH_GROWTH = 8
# The depth git's `fetch --unshallow` asks for (INFINITE_DEPTH in git's shallow.h): all of the history.
UNSHALLOW = 0x7FFFFFFF

# Lambda's /tmp is 512 MB unless configured: the cache of fetched copies takes at most half of it, and a
# copy unused for a day (a repository no longer promoted from) goes. Least recently used go first.
MAX_CACHE_BYTES = 256 * 1024 * 1024
MAX_CACHE_AGE_S = 24 * 3600
_USED_MARK = "path2prod-used"


def no_objects(
    have: Set[ObjectID],
    want: Set[ObjectID],
    *,
    ofs_delta: bool = False,
    progress: Callable[[bytes], None] | None = None,
) -> tuple[int, Iterator[UnpackedObject]]:
    """A send_pack's pack data with no object: a ref update alone (the remote holds the commit)."""
    return 0, iter(())


def shallow_parents(repo: Repo) -> object:
    """A Walker's `get_parents` that stops at the copy's shallow boundary (whose parents are absent)."""
    shallow = repo.get_shallow()

    def parents(commit: Commit) -> list[ObjectID]:
        return [] if commit.id in shallow else list(commit.parents)

    return parents


def history_reaches(repo: Repo, sha: ObjectID, base: ObjectID | None) -> bool:
    """Whether `repo` holds `sha` with all its history down to `base` (None: all of it).

    A complete (not shallow) copy holds the whole history of every commit in it. A shallow one must
    hold `base`, and no commit between `sha` and `base` may sit on the shallow boundary: a merge's
    other parent could otherwise lead below the boundary, to commits the copy lacks.
    """
    from dulwich.walk import Walker

    from path2prod.adapters.git_remote import is_commit

    if not is_commit(repo, sha):
        return False
    shallow = repo.get_shallow()
    if not shallow:
        return True
    if base is None or not is_commit(repo, base):
        return False
    walker = Walker(repo.object_store, [sha], exclude=[base], get_parents=shallow_parents(repo))  # type: ignore[arg-type]
    return not any(entry.commit.id in shallow for entry in walker)


def first_depth(repo: Repo, sha: ObjectID, base: ObjectID | None) -> int | None:
    """The depth of the first fetch of `sha`'s history down to `base` into `repo` (None: no limit).

    A complete copy stays complete: a fetch without depth, negotiated from its refs, brings only what
    is new. An empty or shallow one fetches shallow (the commit alone when `base` is the commit); the
    whole history (`base` None) of a shallow copy is git's `--unshallow`.
    """
    shallow = bool(repo.get_shallow())
    if base is None:
        return UNSHALLOW if shallow else None
    empty = not any(name.startswith(b"refs/") for name in repo.refs.allkeys())
    if not (shallow or empty):
        return None
    return 1 if base == sha else FIRST_DEPTH


def mark_used(repo_path: Path) -> None:
    """Record that a copy was used now (its age for the cache bound)."""
    (repo_path / _USED_MARK).touch()


def cache_bytes(path: Path) -> int:
    """The bytes the files under `path` take."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # removed meanwhile by a concurrent eviction
                total += os.stat(os.path.join(root, name)).st_size
    return total


def bound_cache(
    cache_dir: Path,
    *,
    max_bytes: int = MAX_CACHE_BYTES,
    max_age_s: float = MAX_CACHE_AGE_S,
    now: float | None = None,
) -> list[Path]:
    """Remove copies from `cache_dir` until what is left is younger than `max_age_s` and takes at most
    `max_bytes`, least recently used first; return the removed copies. Run before a fetch: a copy
    that alone is over the bound goes too, and the fetch starts again shallow."""
    if not cache_dir.is_dir():
        return []
    instant = time.time() if now is None else now
    copies = []
    for repo_path in cache_dir.glob("*.git"):
        mark = repo_path / _USED_MARK
        used = mark.stat().st_mtime if mark.exists() else repo_path.stat().st_mtime
        copies.append((used, repo_path, cache_bytes(repo_path)))
    copies.sort()  # least recently used first
    total = sum(size for _, _, size in copies)
    removed = []
    for used, repo_path, size in copies:
        if instant - used <= max_age_s and total <= max_bytes:
            continue
        shutil.rmtree(repo_path, ignore_errors=True)
        total -= size
        removed.append(repo_path)
    return removed


def cached_repo(url: str, commit: str, cache_dir: Path, down_to: str | None = None) -> Path | None:
    """The repo `GitRemote(url).fetch_commit` keeps under `cache_dir`, if it holds `commit` already
    with its history down to `down_to` (as fetch_commit's `down_to`).

    No network and no credentials: a warm Lambda skips assuming a role and signing a request when
    the commit it needs was fetched by an earlier invocation.
    """
    from dulwich.repo import Repo

    from path2prod.adapters.git_remote import cache_name, commit_id

    repo_path = cache_dir / cache_name(url)
    if not (repo_path / "objects").is_dir():
        return None
    base = commit_id(down_to) if down_to else None
    with Repo(str(repo_path)) as repo:
        if not history_reaches(repo, commit_id(commit), base):
            return None
    mark_used(repo_path)
    return repo_path


def is_local(client: GitClient) -> bool:
    from dulwich.client import LocalGitClient

    return isinstance(client, LocalGitClient)


def wants(client: GitClient, sha: ObjectID) -> Callable[..., list[ObjectID]]:
    """The fetch's wants: the commit itself where the server serves any commit it holds (dulwich
    serving a local repository) or advertises it (a branch's head, the usual candidate); else every
    branch head, since git's protocol v0 serves only advertised commits unless the server allows more
    (uploadpack.allowReachableSHA1InWant), and the deepening then reaches the commit in their history.
    """

    def determine_wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
        if is_local(client) or sha in refs.values():
            return [sha]
        heads = {value for name, value in refs.items() if name.startswith(b"refs/heads/")}
        return sorted(heads) or [sha]

    return determine_wants


def keep_refs(repo: Repo, refs: Mapping[Ref, ObjectID | None], sha: ObjectID) -> None:
    """Keep the remote's branches and tags whose commits arrived, and the fetched commit, as refs: the
    next fetch negotiates from them (only new objects travel), and what was fetched stays reachable.
    A head that did not arrive (the fetch wanted one commit) would be a ref to a missing object."""
    from dulwich.refs import Ref

    for name, value in refs.items():
        branch_or_tag = name.startswith((b"refs/heads/", b"refs/tags/"))
        if value is not None and branch_or_tag and not name.endswith(b"^{}") and value in repo.object_store:
            repo.refs[name] = value
    if sha in repo.object_store:
        repo.refs[Ref(b"refs/path2prod/fetched")] = sha


def fetch_local(
    source_path: str, repo: Repo, determine_wants: Callable[..., list[ObjectID]], depth: int | None
) -> dict[Ref, ObjectID]:
    """What dulwich's LocalGitClient.fetch does (the sandbox's repositories are local), without
    reusing the source's deltas: to find reusable ones dulwich reads every object of the source's packs
    (pack.find_reusable_deltas), which made a 30-commit fetch take 12 s from a 6,000-commit
    repository here, linear in its size. Objects are copied whole instead; the few a decision needs
    cost less than that scan. Returns the source's refs."""
    from dulwich.pack import generate_unpacked_objects
    from dulwich.repo import Repo

    with Repo(source_path) as source:
        missing = source.find_missing_objects(determine_wants, repo.get_graph_walker(), None, depth=depth)
        if missing is not None:
            object_ids = list(missing)
            repo.object_store.add_pack_data(
                len(object_ids),
                generate_unpacked_objects(source.object_store, object_ids, reuse_deltas=False),
            )
        return dict(source.get_refs())

"""Git by need (issue 13): the git adapter fetches what a decision needs and moves a branch the remote
can already reach without sending objects, against real repositories made with the git CLI (long
histories from `git fast-import`) and git's own smart HTTP server (tests/integration/test_git_remote.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.integration.test_git_remote as served
from path2prod.adapters.env_repo import EnvRepository
from path2prod.adapters.errors import CommitNotFound, PushRejected
from path2prod.adapters.git_depth import FIRST_DEPTH, bound_cache, cache_bytes
from path2prod.adapters.git_history import promoted_range
from path2prod.adapters.git_remote import GitRemote
from path2prod.domain.git import PushResult
from tests.support.git import Repo, git, load_history, make_repo

HISTORY = 600  # commits: long enough that fetching all of it shows, quick to generate (about 1 s)


def objects_in(bare: Path) -> int:
    """Objects a repository holds, loose and packed (git count-objects)."""
    counts = dict(line.split(": ") for line in git("count-objects", "-v", cwd=bare).splitlines())
    return int(counts["count"]) + int(counts["in-pack"])


def commits_in(bare: Path, head: str) -> int:
    """Commits of `head`'s history the repository holds (a shallow one stops at its boundary)."""
    return int(git("--git-dir", str(bare), "rev-list", "--count", head))


def object_files(bare: Path) -> set[Path]:
    return {p for p in (bare / "objects").rglob("*") if p.is_file()}


@pytest.fixture
def long_history(tmp_path: Path) -> Repo:
    """The upstream env's repo with HISTORY commits on main, published."""
    repo = make_repo(tmp_path, "upstream")
    repo.commit("first")
    load_history(repo.work, HISTORY, files=20, blob_bytes=2048)
    repo.publish()
    return repo


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def test_moving_main_to_a_commit_the_remote_holds_sends_no_objects(long_history: Repo) -> None:
    # GIVEN the env's repo ran `good` (HISTORY commits back) and main is now on a later commit
    good = git("rev-parse", "HEAD~5", cwd=long_history.work)
    before = object_files(long_history.bare)

    # WHEN main is moved back to it, as a rollback does
    result = EnvRepository(str(long_history.bare), cache_dir=long_history.bare.parent / "c").force_main(good)

    # THEN main names it, nothing was written to the repository's objects and nothing fetched
    assert result == PushResult(old=git("rev-parse", "HEAD", cwd=long_history.work), new=good)
    assert long_history.main == good
    assert object_files(long_history.bare) == before
    assert not (long_history.bare.parent / "c").exists()
    served.assert_complete(long_history.bare)


def test_moving_main_to_a_commit_the_remote_lacks_is_commit_not_found(
    long_history: Repo, tmp_path: Path
) -> None:
    # GIVEN a commit that exists only in another repository
    other = make_repo(tmp_path, "other")
    elsewhere = other.commit("never pushed to upstream")
    head = long_history.main

    # WHEN / THEN main is not moved
    with pytest.raises(CommitNotFound):
        GitRemote(str(long_history.bare)).move_branch(elsewhere)
    assert long_history.main == head


class RecordingServer(served.GitHttpServer):
    """git http-backend behind basic auth, keeping the body of every receive-pack request."""

    def __init__(self, project_root: Path) -> None:
        super().__init__(project_root, served.PASSWORD)
        self.pushed: list[bytes] = []
        server = self

        class Recording(served.GitHttpBackend):
            def _read_body(self) -> bytes:
                body = super()._read_body()
                if self.path.endswith("/git-receive-pack"):
                    server.pushed.append(body)
                return body

        self.RequestHandlerClass = Recording


@pytest.fixture
def recording_server(tmp_path: Path) -> Iterator[RecordingServer]:
    server = RecordingServer(tmp_path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_over_http_moving_main_sends_an_empty_pack(
    long_history: Repo, recording_server: RecordingServer
) -> None:
    # GIVEN the env's repo over HTTP, main on a later commit than `good`
    good = git("rev-parse", "HEAD~3", cwd=long_history.work)
    remote = GitRemote(recording_server.url(long_history), username=served.USERNAME, password=served.PASSWORD)

    # WHEN main is moved back to `good`
    remote.move_branch(good)

    # THEN one receive-pack request: the ref update and a pack of no objects (header and trailer)
    assert long_history.main == good
    [body] = recording_server.pushed
    pack = body[body.index(b"PACK") :]
    assert int.from_bytes(pack[8:12], "big") == 0  # the pack header's object count
    assert len(pack) == 32  # 12-byte header + 20-byte checksum: no object data at all
    served.assert_complete(long_history.bare)


def test_over_http_the_server_refuses_a_move_to_a_commit_it_lacks(
    long_history: Repo, recording_server: RecordingServer, tmp_path: Path
) -> None:
    # GIVEN a commit the env's repo never had
    elsewhere = make_repo(tmp_path, "other").commit("never pushed")
    head = long_history.main
    remote = GitRemote(recording_server.url(long_history), username=served.USERNAME, password=served.PASSWORD)

    # WHEN / THEN git's receive-pack checks connectivity and refuses; main stays
    with pytest.raises(PushRejected):
        remote.move_branch(elsewhere)
    assert long_history.main == head


def test_a_promotion_fetches_only_the_commits_the_target_lacks(
    long_history: Repo, tmp_path: Path, cache_dir: Path
) -> None:
    # GIVEN the target's main is 5 commits behind the upstream's head
    target = make_repo(tmp_path, "target")
    behind = git("rev-parse", "HEAD~5", cwd=long_history.work)
    git("push", "--quiet", str(target.bare), f"{behind}:refs/heads/main", cwd=long_history.work)
    head = long_history.main

    # WHEN the head is fetched down to the target's main, its range read and pushed
    local = GitRemote(str(long_history.bare)).fetch_commit(head, cache_dir, down_to=behind)
    promoted = promoted_range(local, head, behind)
    result = GitRemote(str(target.bare)).push_commit(head, local, force=False)

    # THEN the copy holds one shallow fetch, not the history, and the range is exact
    assert commits_in(local, head) <= FIRST_DEPTH
    assert objects_in(local) < objects_in(long_history.bare) / 4
    expected = git("rev-list", f"{behind}..{head}", cwd=long_history.work).splitlines()
    assert [c.sha for c in promoted.commits] == expected
    assert len(expected) == 5 and not promoted.truncated
    assert result == PushResult(old=behind, new=head)
    served.assert_complete(target.bare)


def test_a_fetch_deepens_until_it_reaches_the_targets_main(
    long_history: Repo, tmp_path: Path, cache_dir: Path
) -> None:
    # GIVEN the target's main is 200 commits behind (past the first depth)
    behind = git("rev-parse", "HEAD~200", cwd=long_history.work)
    head = long_history.main

    # WHEN the head is fetched down to it
    local = EnvRepository(str(long_history.bare), cache_dir=cache_dir).fetch(head, behind)

    # THEN the copy reaches it without the rest of the history, and the range is exact and whole
    assert 200 < commits_in(local, head) < HISTORY
    promoted = promoted_range(local, head, behind)
    assert [c.sha for c in promoted.commits] == git(
        "rev-list", f"{behind}..{head}", cwd=long_history.work
    ).splitlines()
    assert not promoted.truncated


def test_a_range_past_the_shallow_boundary_is_truncated(long_history: Repo, cache_dir: Path) -> None:
    # GIVEN a copy of the head alone (what a commit's facts need)
    head = long_history.main
    local = EnvRepository(str(long_history.bare), cache_dir=cache_dir).fetch(head, head)
    assert commits_in(local, head) == 1

    # WHEN the range down to an old commit is read from that copy
    old = git("rev-parse", "HEAD~50", cwd=long_history.work)
    promoted = promoted_range(local, head, old)

    # THEN it says it is not the whole range
    assert promoted.truncated


def test_the_cache_evicts_the_least_recently_used_copy_over_its_bound(
    long_history: Repo, tmp_path: Path
) -> None:
    # GIVEN a cache holding a whole copy of one repository
    cache_dir = tmp_path / "cache"
    other = make_repo(tmp_path, "other")
    other_head = other.commit("other")
    other.publish()
    first = GitRemote(str(long_history.bare)).fetch_commit(long_history.main, cache_dir, down_to=None)
    size = cache_bytes(first)

    # WHEN another repository is fetched with a bound smaller than that copy
    second = GitRemote(str(other.bare)).fetch_commit(other_head, cache_dir, max_cache_bytes=size // 2)

    # THEN the older copy went, the new one is there
    assert not first.exists()
    assert second.exists() and cache_bytes(cache_dir) < size


def test_the_cache_evicts_copies_unused_past_their_age(long_history: Repo, cache_dir: Path) -> None:
    # GIVEN a copy used once
    copy = GitRemote(str(long_history.bare)).fetch_commit(
        long_history.main, cache_dir, down_to=long_history.main
    )

    # WHEN the bound is applied a second past its age
    kept = bound_cache(cache_dir, max_age_s=3600, now=(copy / "path2prod-used").stat().st_mtime + 3599)
    removed = bound_cache(cache_dir, max_age_s=3600, now=(copy / "path2prod-used").stat().st_mtime + 3601)

    # THEN it stays within its age and goes past it
    assert kept == []
    assert removed == [copy] and not copy.exists()


def test_over_http_a_promotion_fetches_shallow_and_pushes(
    long_history: Repo, recording_server: RecordingServer, tmp_path: Path, cache_dir: Path
) -> None:
    # GIVEN the target's main is 5 commits behind the upstream's head, both served by git http-backend
    target = make_repo(tmp_path, "target")
    behind = git("rev-parse", "HEAD~5", cwd=long_history.work)
    git("push", "--quiet", str(target.bare), f"{behind}:refs/heads/main", cwd=long_history.work)
    head = long_history.main
    source = GitRemote(recording_server.url(long_history), username=served.USERNAME, password=served.PASSWORD)
    sink = GitRemote(recording_server.url(target), username=served.USERNAME, password=served.PASSWORD)

    # WHEN the head is fetched over HTTP down to the target's main and pushed there
    local = source.fetch_commit(head, cache_dir, down_to=sink.branch_head())
    result = sink.push_commit(head, local, force=False)

    # THEN the copy is shallow (a depth the server honoured), the range exact, the target complete
    assert commits_in(local, head) <= FIRST_DEPTH
    assert [c.sha for c in promoted_range(local, head, behind).commits] == git(
        "rev-list", f"{behind}..{head}", cwd=long_history.work
    ).splitlines()
    assert result == PushResult(old=behind, new=head)
    served.assert_complete(target.bare)


def test_a_target_with_commits_upstream_never_had_gets_the_whole_history(
    long_history: Repo, tmp_path: Path, cache_dir: Path
) -> None:
    # GIVEN the target's main is a commit upstream never had (a forced promotion's case)
    own = make_repo(tmp_path, "own").commit("only in the target")
    head = long_history.main

    # WHEN the head is fetched down to it
    local = GitRemote(str(long_history.bare)).fetch_commit(head, cache_dir, down_to=own)

    # THEN the deepening ends with the whole history, no longer shallow
    assert commits_in(local, head) == HISTORY + 1
    assert not (local / "shallow").exists() or not (local / "shallow").read_text().strip()


def test_an_empty_target_after_a_commit_alone_gets_the_whole_range(
    long_history: Repo, cache_dir: Path
) -> None:
    # GIVEN a copy holding the head alone (a commit's facts were read first)
    head = long_history.main
    env_repo = EnvRepository(str(long_history.bare), cache_dir=cache_dir)
    env_repo.commit_info(head)

    # WHEN the range promoting it to an empty branch is read
    promoted = env_repo.promoted_range(head, None)

    # THEN it is the whole history, complete
    assert len(promoted.commits) == HISTORY + 1 and not promoted.truncated

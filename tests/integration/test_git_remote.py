"""The git adapter (dulwich) against real bare repositories made with the git CLI.

Repo A plays the upstream account's repo, repo B the downstream one. Every push is checked with the
git CLI afterwards (rev-parse, fsck): the adapter must leave repos that git itself reads as intended.
The HTTPS path is exercised against git's own `git http-backend`, so hooks and server-side refusals
are git's real ones, and the credentials travel as HTTP basic auth as they do to CodeCommit.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from path2prod.adapters.errors import (
    CommitNotFound,
    InvalidCommitId,
    NotFastForward,
    PushRejected,
    RemoteUnavailable,
)
from path2prod.adapters.git_history import commit_info, promoted_range
from path2prod.adapters.git_remote import GitRemote
from path2prod.domain.errors import Path2ProdError
from path2prod.domain.git import CommitInfo, PushResult
from path2prod.domain.review_facts import PromotedCommit
from tests.support.git import GIT_ENV, Repo, git, make_repo


def head_of(bare: Path, branch: str = "main") -> str:
    return git("--git-dir", str(bare), "rev-parse", f"refs/heads/{branch}")


def assert_complete(bare: Path) -> None:
    """git fsck finds every object the refs reach: the push sent all that was missing."""
    git("--git-dir", str(bare), "fsck", "--strict", "--no-dangling")


@pytest.fixture
def upstream(tmp_path: Path) -> Repo:
    """Repo A: the upstream env's repo, empty."""
    return make_repo(tmp_path, "A")


@pytest.fixture
def downstream(tmp_path: Path) -> Repo:
    """Repo B: the downstream env's repo, empty."""
    return make_repo(tmp_path, "B")


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """Where fetches land, as Lambda's /tmp would hold them."""
    return tmp_path / "cache"


def promote(commit: str, source: Repo, target: Repo, cache_dir: Path, *, force: bool = False) -> PushResult:
    """What the promoter does: fetch the commit from the upstream repo, push it to the target's main."""
    local = GitRemote(str(source.bare)).fetch_commit(commit, cache_dir)
    return GitRemote(str(target.bare)).push_commit(commit, local, force=force)


# --- fetch and fast-forward push ----------------------------------------------------------------


def test_fetch_from_a_and_fast_forward_push_to_b(upstream: Repo, downstream: Repo, cache_dir: Path) -> None:
    # GIVEN A has c1 <- c2 and B's main is at c1
    c1 = upstream.commit("c1")
    c2 = upstream.commit("c2")
    upstream.publish()
    git("push", "--quiet", str(downstream.bare), f"{c1}:refs/heads/main", cwd=upstream.work)

    # WHEN c2 is fetched from A and pushed to B without force
    local = GitRemote(str(upstream.bare)).fetch_commit(c2, cache_dir)
    result = GitRemote(str(downstream.bare)).push_commit(c2, local, force=False)

    # THEN B's main is c2, git sees a complete repo, and the result tells where main moved from
    assert result == PushResult(old=c1, new=c2)
    assert result.changed
    assert head_of(downstream.bare) == c2
    assert_complete(downstream.bare)
    assert local.parent == cache_dir


def test_push_to_an_empty_repo_creates_the_branch(upstream: Repo, downstream: Repo, cache_dir: Path) -> None:
    # GIVEN A has c1 and B has no commits at all
    c1 = upstream.commit("c1")
    upstream.publish()

    # WHEN c1 is promoted to B
    result = promote(c1, upstream, downstream, cache_dir)

    # THEN B's main exists and is c1
    assert result == PushResult(old=None, new=c1)
    assert head_of(downstream.bare) == c1
    assert_complete(downstream.bare)


def test_file_url_works_like_a_path(upstream: Repo, downstream: Repo, cache_dir: Path) -> None:
    # GIVEN A has c1
    c1 = upstream.commit("c1")
    upstream.publish()

    # WHEN both remotes are named by file:// URLs
    local = GitRemote(upstream.bare.as_uri()).fetch_commit(c1, cache_dir)
    GitRemote(downstream.bare.as_uri()).push_commit(c1, local, force=False)

    # THEN the push landed
    assert head_of(downstream.bare) == c1


def test_pushing_the_commit_main_already_names_changes_nothing(
    upstream: Repo, downstream: Repo, cache_dir: Path
) -> None:
    # GIVEN B's main is already c1
    c1 = upstream.commit("c1")
    upstream.publish()
    promote(c1, upstream, downstream, cache_dir)

    # WHEN c1 is pushed again (a duplicated approval, a retried invocation)
    result = promote(c1, upstream, downstream, cache_dir)

    # THEN the push is a no-op that says so
    assert result == PushResult(old=c1, new=c1)
    assert not result.changed
    assert head_of(downstream.bare) == c1


# --- non-fast-forward, force, rollback -------------------------------------------------------------


def test_moving_main_back_is_refused_without_force_and_done_with_force(
    upstream: Repo, downstream: Repo, cache_dir: Path
) -> None:
    # GIVEN B's main is at c2, whose parent is c1
    c1 = upstream.commit("c1")
    c2 = upstream.commit("c2")
    upstream.publish()
    promote(c2, upstream, downstream, cache_dir)

    # WHEN c1 is pushed without force
    # THEN it is refused as a non-fast-forward and B is untouched
    with pytest.raises(NotFastForward) as refused:
        promote(c1, upstream, downstream, cache_dir)
    assert (refused.value.remote_head, refused.value.commit, refused.value.branch) == (c2, c1, "main")
    assert isinstance(refused.value, Path2ProdError)
    assert head_of(downstream.bare) == c2

    # WHEN it is pushed with force (a rollback)
    result = promote(c1, upstream, downstream, cache_dir, force=True)

    # THEN B's main moved back to c1
    assert result == PushResult(old=c2, new=c1)
    assert head_of(downstream.bare) == c1
    assert_complete(downstream.bare)


def test_a_diverged_remote_branch_is_refused_without_force(
    upstream: Repo, downstream: Repo, cache_dir: Path
) -> None:
    # GIVEN B's main holds a commit A never had (someone pushed to B directly)
    c1 = upstream.commit("c1")
    upstream.publish()
    git("push", "--quiet", str(downstream.bare), f"{c1}:refs/heads/main", cwd=upstream.work)
    git("fetch", "--quiet", "origin", cwd=downstream.work)
    git("reset", "--quiet", "--hard", "origin/main", cwd=downstream.work)
    hotfix = downstream.commit("hotfix made in B")
    downstream.publish()
    c2 = upstream.commit("c2")
    upstream.publish()

    # WHEN A's c2 is pushed to B without force
    # THEN it is refused (B's head is not in c2's history), and B keeps its hotfix
    with pytest.raises(NotFastForward):
        promote(c2, upstream, downstream, cache_dir)
    assert head_of(downstream.bare) == hotfix

    # WHEN pushed with force, B's main is c2
    assert promote(c2, upstream, downstream, cache_dir, force=True) == PushResult(old=hotfix, new=c2)
    assert head_of(downstream.bare) == c2
    assert_complete(downstream.bare)


def test_rollback_to_an_earlier_commit_of_the_repo_itself(downstream: Repo, cache_dir: Path) -> None:
    # GIVEN B's main went c1 -> c2 -> c3, each pushed by a person
    c1 = downstream.commit("c1")
    downstream.publish()
    downstream.commit("c2")
    downstream.publish()
    c3 = downstream.commit("c3")
    downstream.publish()
    remote = GitRemote(str(downstream.bare))

    # WHEN the rollback fetches B itself and force-pushes the earlier good commit c1
    local = remote.fetch_commit(c1, cache_dir)
    result = remote.push_commit(c1, local, force=True)

    # THEN B's main is c1 again
    assert result == PushResult(old=c3, new=c1)
    assert head_of(downstream.bare) == c1
    assert remote.branch_head() == c1
    assert_complete(downstream.bare)


def test_local_pushes_run_no_hooks(upstream: Repo, downstream: Repo, cache_dir: Path) -> None:
    # GIVEN B has a post-receive hook that leaves a mark, as the sandbox's pipeline trigger might
    mark = downstream.bare / "hook-ran"
    hook = downstream.bare / "hooks" / "post-receive"
    hook.write_text(f"#!/bin/sh\ntouch '{mark}'\n")
    hook.chmod(0o755)
    c1 = upstream.commit("c1")
    upstream.publish()

    # WHEN path2prod pushes to it as a local repo
    promote(c1, upstream, downstream, cache_dir)

    # THEN the push landed but no hook ran: dulwich writes the refs itself, so whatever reacts to a
    # push in the sandbox must not rely on hooks (a pinned fact; if it changes, the sandbox must too)
    assert head_of(downstream.bare) == c1
    assert not mark.exists()


# --- ls-remote, fetch cache, commit facts --------------------------------------------------------


def test_branch_head(upstream: Repo) -> None:
    remote = GitRemote(str(upstream.bare))
    # GIVEN an empty repo, THEN it has no main
    assert remote.branch_head() is None

    # GIVEN main and a release branch
    c1 = upstream.commit("c1")
    upstream.publish()
    c2 = upstream.commit("c2")
    upstream.publish("HEAD:refs/heads/release")

    # THEN each branch has its head, and a missing branch has none
    assert remote.branch_head() == c1
    assert remote.branch_head("release") == c2
    assert remote.branch_head("nope") is None


def test_fetch_cache_is_reused_and_fetches_what_is_new(upstream: Repo, cache_dir: Path) -> None:
    # GIVEN c1 was fetched once (a warm Lambda's /tmp)
    c1 = upstream.commit("c1")
    upstream.publish()
    remote = GitRemote(str(upstream.bare))
    first = remote.fetch_commit(c1, cache_dir)

    # WHEN A gets c2 and c2 is fetched, then c1 again
    c2 = upstream.commit("c2")
    upstream.publish()
    second = remote.fetch_commit(c2, cache_dir)
    third = remote.fetch_commit(c1, cache_dir)

    # THEN the same cache repo serves all three and holds A's main as git reads it
    assert first == second == third
    assert [p.name for p in cache_dir.iterdir()] == [first.name]
    assert head_of(first) == c2
    assert_complete(first)


def test_each_remote_has_its_own_cache_repo(upstream: Repo, downstream: Repo, cache_dir: Path) -> None:
    c1 = upstream.commit("c1")
    upstream.publish()
    d1 = downstream.commit("d1")
    downstream.publish()

    from_a = GitRemote(str(upstream.bare)).fetch_commit(c1, cache_dir)
    from_b = GitRemote(str(downstream.bare)).fetch_commit(d1, cache_dir)

    assert from_a != from_b
    assert head_of(from_a) == c1
    assert head_of(from_b) == d1


def test_commit_info(upstream: Repo, cache_dir: Path) -> None:
    # GIVEN a commit by Bob with a multi-line message, authored at a known time in UTC+02:00
    sha = upstream.commit(
        "Fix the checkout total\n\nRounding happened twice.",
        env={
            "GIT_AUTHOR_NAME": "Bob Builder",
            "GIT_AUTHOR_EMAIL": "bob@example.com",
            "GIT_AUTHOR_DATE": "2024-05-06T07:08:09+02:00",
        },
    )
    upstream.publish()
    local = GitRemote(str(upstream.bare)).fetch_commit(sha, cache_dir)

    # WHEN its facts are read from the fetched repo
    info = commit_info(local, sha.upper())

    # THEN they are the author's (not the committer's), the first line, and the time in UTC
    assert info == CommitInfo(
        sha=sha,
        author_name="Bob Builder",
        author_email="bob@example.com",
        message="Fix the checkout total",
        authored_at="2024-05-06T05:08:09Z",
    )


CAROL_COMMITS = {
    "GIT_AUTHOR_NAME": "Carol",
    "GIT_AUTHOR_EMAIL": "carol@example.com",
    "GIT_COMMITTER_NAME": "Carol",
    "GIT_COMMITTER_EMAIL": "carol@example.com",
}


def test_promoted_range_lists_what_the_target_lacks_newest_first(
    upstream: Repo, downstream: Repo, cache_dir: Path
) -> None:
    # GIVEN A holds base, then Alice's commit, then Carol's (authored by Carol, committed by Alice) on top
    base = upstream.commit("base")
    alices = upstream.commit("Alice's change\n\nwith a body")
    carols = upstream.commit(
        "Carol's change", env={"GIT_AUTHOR_NAME": "Carol", "GIT_AUTHOR_EMAIL": "carol@example.com"}
    )
    upstream.publish()
    local = GitRemote(str(upstream.bare)).fetch_commit(carols, cache_dir)
    # and a head B has that A never had
    foreign = downstream.commit("only in B")

    # WHEN the range is read for a target at base, at nothing, and at a commit A lacks
    from_base = promoted_range(local, carols, base)
    from_nothing = promoted_range(local, carols, None)
    from_foreign = promoted_range(local, carols, foreign)

    # THEN at base: the two commits above it, newest first, with author, committer and first line
    assert from_base.target_head == base
    assert not from_base.truncated
    assert from_base.commits == (
        PromotedCommit(carols, "Carol", "carol@example.com", "alice@example.com", "Carol's change"),
        PromotedCommit(alices, "Alice Example", "alice@example.com", "alice@example.com", "Alice's change"),
    )
    # THEN at nothing, or at a head A lacks: everything the candidate reaches (nothing can be excluded)
    assert [c.sha for c in from_nothing.commits] == [carols, alices, base]
    assert from_nothing.target_head is None
    assert [c.sha for c in from_foreign.commits] == [carols, alices, base]
    assert from_foreign.target_head == foreign
    # THEN at the candidate itself: nothing
    assert promoted_range(local, carols, carols).commits == ()


def test_promoted_range_stops_at_its_bound_and_says_so(upstream: Repo, cache_dir: Path) -> None:
    # GIVEN four commits, the newest by Carol
    for message in ("c1", "c2", "c3"):
        upstream.commit(message)
    newest = upstream.commit("c4", env=CAROL_COMMITS)
    upstream.publish()
    local = GitRemote(str(upstream.bare)).fetch_commit(newest, cache_dir)

    # WHEN the range is read with a bound of 3, and of 4
    bounded = promoted_range(local, newest, None, limit=3)
    exact = promoted_range(local, newest, None, limit=4)

    # THEN the first is truncated after 3 commits, the second holds all four and is not
    assert (len(bounded.commits), bounded.truncated) == (3, True)
    assert bounded.commits[0].author_email == "carol@example.com"
    assert (len(exact.commits), exact.truncated) == (4, False)


# --- what cannot be done -------------------------------------------------------------------------


def test_commit_not_found(upstream: Repo, downstream: Repo, cache_dir: Path) -> None:
    # GIVEN A has c1, and a commit that exists only in B
    c1 = upstream.commit("c1")
    upstream.publish()
    elsewhere = downstream.commit("only in B")
    downstream.publish()
    remote = GitRemote(str(upstream.bare))

    # THEN fetching it from A, pushing it from A's fetch, or reading it there is CommitNotFound
    with pytest.raises(CommitNotFound):
        remote.fetch_commit(elsewhere, cache_dir)
    local = remote.fetch_commit(c1, cache_dir)
    with pytest.raises(CommitNotFound):
        GitRemote(str(downstream.bare)).push_commit(elsewhere, local, force=True)
    with pytest.raises(CommitNotFound):
        commit_info(local, elsewhere)
    with pytest.raises(CommitNotFound):
        promoted_range(local, elsewhere, c1)
    # and B was not touched
    assert head_of(downstream.bare) == elsewhere


def test_a_tree_id_is_not_a_commit(upstream: Repo, cache_dir: Path) -> None:
    upstream.commit("c1")
    upstream.publish()
    tree = git("rev-parse", "HEAD^{tree}", cwd=upstream.work)

    with pytest.raises(CommitNotFound):
        GitRemote(str(upstream.bare)).fetch_commit(tree, cache_dir)


@pytest.mark.parametrize("commit", ["abc123", "HEAD", "main", "g" * 40, ""])
def test_only_full_commit_ids_are_accepted(upstream: Repo, cache_dir: Path, commit: str) -> None:
    with pytest.raises(InvalidCommitId):
        GitRemote(str(upstream.bare)).fetch_commit(commit, cache_dir)
    assert issubclass(InvalidCommitId, ValueError)


def test_a_missing_repository_is_unavailable(tmp_path: Path, cache_dir: Path) -> None:
    remote = GitRemote(str(tmp_path / "no-such-repo.git"))

    with pytest.raises(RemoteUnavailable):
        remote.branch_head()
    with pytest.raises(RemoteUnavailable):
        remote.fetch_commit("0" * 40, cache_dir)


# --- over HTTP, against git's own smart HTTP server ----------------------------------------------

USERNAME = "AKIDEXAMPLE%session-token"  # CodeCommit's shape: access key, "%", session token
PASSWORD = "20240506T070809Zdeadbeef"


class GitHttpBackend(BaseHTTPRequestHandler):
    """Serves the repos under `server.project_root` through `git http-backend` (CGI), behind basic auth."""

    server: GitHttpServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def _serve(self) -> None:
        expected = "Basic " + base64.b64encode(f"{USERNAME}:{self.server.password}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self._read_body()
        path, _, query = self.path.partition("?")
        env = {
            **os.environ,
            **GIT_ENV,
            "GIT_PROJECT_ROOT": str(self.server.project_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": USERNAME,  # http-backend allows receive-pack only to an authenticated user
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        output = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=True
        ).stdout
        separator = b"\r\n\r\n" if b"\r\n\r\n" in output else b"\n\n"
        head, _, payload = output.partition(separator)
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            else:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()


class GitHttpServer(ThreadingHTTPServer):
    def __init__(self, project_root: Path, password: str) -> None:
        super().__init__(("127.0.0.1", 0), GitHttpBackend)
        self.project_root = project_root
        self.password = password

    def url(self, repo: Repo) -> str:
        return f"http://127.0.0.1:{self.server_port}/{repo.bare.name}"


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[GitHttpServer]:
    server = GitHttpServer(tmp_path, PASSWORD)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_over_http_fetch_push_and_ls_remote(
    http_server: GitHttpServer, upstream: Repo, downstream: Repo, cache_dir: Path
) -> None:
    # GIVEN A has c1 <- c2 and B's main is c1, both served over HTTP behind basic auth
    c1 = upstream.commit("c1")
    c2 = upstream.commit("c2")
    upstream.publish()
    git("push", "--quiet", str(downstream.bare), f"{c1}:refs/heads/main", cwd=upstream.work)
    source = GitRemote(http_server.url(upstream), username=USERNAME, password=PASSWORD)
    target = GitRemote(http_server.url(downstream), username=USERNAME, password=PASSWORD)

    # WHEN c2 is promoted over HTTP
    local = source.fetch_commit(c2, cache_dir)
    result = target.push_commit(c2, local, force=False)

    # THEN B's main is c2 and ls-remote over HTTP says so
    assert result == PushResult(old=c1, new=c2)
    assert head_of(downstream.bare) == c2
    assert target.branch_head() == c2
    assert_complete(downstream.bare)
    # and the password is not in the adapter's repr (it ends up in logs)
    assert PASSWORD not in repr(target)


def test_over_http_a_hook_refusal_is_push_rejected_with_the_remotes_words(
    http_server: GitHttpServer, upstream: Repo, downstream: Repo, cache_dir: Path
) -> None:
    # GIVEN B's server refuses every push in a pre-receive hook, with a reason
    hook = downstream.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is frozen for the release' >&2\nexit 1\n")
    hook.chmod(0o755)
    c1 = upstream.commit("c1")
    upstream.publish()
    local = GitRemote(str(upstream.bare)).fetch_commit(c1, cache_dir)
    target = GitRemote(http_server.url(downstream), username=USERNAME, password=PASSWORD)

    # WHEN c1 is pushed
    with pytest.raises(PushRejected) as rejected:
        target.push_commit(c1, local, force=True)

    # THEN the error carries git's status and the hook's words, and B has no main
    assert "main is frozen for the release" in rejected.value.reason
    assert "pre-receive hook declined" in rejected.value.reason
    assert target.branch_head() is None


def test_over_http_the_server_can_refuse_a_forced_rewind(
    http_server: GitHttpServer, upstream: Repo, downstream: Repo, cache_dir: Path
) -> None:
    # GIVEN B's main is c2 and its server denies non-fast-forwards whatever the client says
    c1 = upstream.commit("c1")
    c2 = upstream.commit("c2")
    upstream.publish()
    promote(c2, upstream, downstream, cache_dir)
    git("--git-dir", str(downstream.bare), "config", "receive.denyNonFastForwards", "true")
    target = GitRemote(http_server.url(downstream), username=USERNAME, password=PASSWORD)
    local = GitRemote(str(upstream.bare)).fetch_commit(c1, cache_dir)

    # WHEN c1 is pushed without force, THEN the adapter itself refuses before sending anything
    with pytest.raises(NotFastForward):
        target.push_commit(c1, local, force=False)

    # WHEN a forced rollback to c1 is pushed, THEN the remote refuses it and main stays c2
    with pytest.raises(PushRejected):
        target.push_commit(c1, local, force=True)
    assert head_of(downstream.bare) == c2


def test_over_http_wrong_credentials_are_remote_unavailable(
    http_server: GitHttpServer, upstream: Repo, cache_dir: Path
) -> None:
    upstream.commit("c1")
    upstream.publish()
    remote = GitRemote(http_server.url(upstream), username=USERNAME, password="expired")

    with pytest.raises(RemoteUnavailable):
        remote.branch_head()
    with pytest.raises(RemoteUnavailable):
        remote.fetch_commit("0" * 40, cache_dir)

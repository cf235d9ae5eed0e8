"""Git without a git binary: fetch a commit from one repo and push it to another's branch (dulwich).

Lambda's runtime has no `git`, so the promoter and the rollback speak the git protocol themselves:
over HTTPS to CodeCommit (with the SigV4-derived credentials of `codecommit_git_credentials`), or to a
local bare repository (a path or file:// URL, as the sandbox's repos are).

dulwich is imported inside the functions that use it: `import dulwich.client` costs about 175 ms in a
fresh interpreter here (median of 7; `import boto3` took about 780 ms on the same machine), and about
30-40 ms on top of an already imported boto3, with which it shares urllib3 and logging. Handlers
that merely import this module should not pay for it before they push; botocore.auth is imported
lazily for the same reason.

A push by dulwich runs no hooks on a local repository: whatever must react to a push in the sandbox
has to notice it some other way, as it must for a push by a person.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from path2prod.adapters.errors import (
    CommitNotFound,
    GitRemoteError,
    InvalidCommitId,
    NotFastForward,
    PushRejected,
    RemoteUnavailable,
)
from path2prod.domain.git import PushResult
from path2prod.domain.time import utc_now

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Set

    from botocore.credentials import Credentials, ReadOnlyCredentials
    from dulwich.client import GitClient
    from dulwich.objects import ObjectID
    from dulwich.pack import UnpackedObject
    from dulwich.refs import Ref
    from dulwich.repo import Repo


_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def codecommit_git_credentials(
    url: str,
    credentials: Credentials | ReadOnlyCredentials,
    region: str,
    now: datetime | None = None,
) -> tuple[str, str]:
    """The HTTPS git username and password CodeCommit accepts for `url`, derived from AWS credentials.

    This is what git-remote-codecommit computes (aws/git-remote-codecommit,
    git_remote_codecommit/__init__.py, functions `git_url` and `sign`, read at commit
    752632c56f7b5a7ab0723a09461c9618c90e556b; the version at 10955c56 signs the same way and lacks
    only the amazonaws.com.cn host of the China regions): a SigV4 signature of the service
    "codecommit" over the canonical request "GIT\\n<path>\\n\\nhost:<host>\\n\\nhost\\n", built with
    botocore's own SigV4Auth, as git-remote-codecommit does. The signed host is the URL's own, so
    the China regions' hosts need nothing special here.
    The username is the access key, followed by "%" and the session token when there is one; the
    password is "<YYYYMMDDTHHMMSS>Z<hex signature>". git-remote-codecommit percent-quotes the username
    because it embeds it in a URL (git unquotes it again); dulwich sends these values as HTTP basic
    auth directly, so they are returned unquoted.

    `now` defaults to the current time; a naive datetime is taken as UTC. The password is valid for
    a limited time only: derive it just before the fetch or push.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import ReadOnlyCredentials

    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or not parts.path:
        raise ValueError(f"not a CodeCommit HTTPS repository URL: {url!r}")
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    path = parts.path

    # Refreshable credentials can rotate between reading the key and the secret: freeze them once.
    frozen = (
        credentials if isinstance(credentials, ReadOnlyCredentials) else credentials.get_frozen_credentials()
    )
    if not frozen.access_key or not frozen.secret_key:
        raise ValueError("AWS credentials without an access key or secret key")
    instant = now or utc_now()
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC)

    request = AWSRequest(method="GIT", url=f"https://{host}{path}")
    request.context["timestamp"] = instant.strftime("%Y%m%dT%H%M%S")
    signer = SigV4Auth(frozen, "codecommit", region)
    canonical_request = f"GIT\n{path}\n\nhost:{host}\n\nhost\n"
    signature = signer.signature(signer.string_to_sign(request, canonical_request), request)

    username = frozen.access_key + (f"%{frozen.token}" if frozen.token else "")
    return username, f"{request.context['timestamp']}Z{signature}"


class GitRemote:
    """One remote repository: a local bare repo (path or file:// URL) or an HTTPS CodeCommit URL."""

    def __init__(self, url: str, *, username: str | None = None, password: str | None = None) -> None:
        self.url = url
        self._username = username
        self._password = password

    def __repr__(self) -> str:
        # Never show the password: reprs end up in logs.
        return f"GitRemote({self.url!r})"

    def branch_head(self, branch: str = "main") -> str | None:
        """The commit the remote's `branch` points at (ls-remote), or None if there is no such branch."""
        client, path = self._client()
        with _remote_errors():
            refs = client.get_refs(path.encode()).refs
        head = refs.get(_branch_ref(branch))
        return head.decode("ascii") if head else None

    def fetch_commit(
        self, commit: str, cache_dir: Path, *, down_to: str | None = None, max_cache_bytes: int | None = None
    ) -> Path:
        """Fetch `commit` with its history down to `down_to` into a bare repo under `cache_dir`, and
        return that repo's path.

        `down_to` is the commit the other side of the decision has (a target's main): the fetch is
        shallow and deepens (git_depth.FIRST_DEPTH, x DEPTH_GROWTH) until the copy holds every commit
        between the two, or the whole history when the remote has no path to `down_to`. `down_to`
        equal to `commit` fetches that commit alone (depth 1), None its whole history. The repo is
        named after the URL and kept, so a warm Lambda's /tmp fetches only what is new, within
        git_depth.bound_cache's bound (`max_cache_bytes`, default MAX_CACHE_BYTES).
        Raises CommitNotFound when the commit is still missing after the fetch.

        Shallow fetches need the server's `shallow` capability: `git http-backend` has it, so does
        dulwich serving the sandbox's local repos. CodeCommit's guide does not say; CodeBuild clones
        CodeCommit shallow (`clone_depth`, aws_cdk.aws_codebuild.CodeCommitSourceProps). Untried there.
        """
        from path2prod.adapters.git_depth import (
            DEPTH_GROWTH,
            MAX_CACHE_BYTES,
            UNSHALLOW,
            bound_cache,
            fetch_local,
            first_depth,
            history_reaches,
            is_local,
            keep_refs,
            mark_used,
            wants,
        )

        sha = commit_id(commit)
        base = commit_id(down_to) if down_to else None
        bound_cache(cache_dir, max_bytes=MAX_CACHE_BYTES if max_cache_bytes is None else max_cache_bytes)
        repo_path = cache_dir / cache_name(self.url)
        repo = _open_or_init_bare(repo_path)
        with repo:
            mark_used(repo_path)
            if history_reaches(repo, sha, base):
                return repo_path
            client, path = self._client()
            self._check_local_holds(client, path, sha)
            depth = first_depth(repo, sha, base)
            wanted = wants(client, sha)
            while True:
                refs: Mapping[Ref, ObjectID | None]
                with _remote_errors():
                    if is_local(client):
                        refs = fetch_local(path, repo, wanted, depth)
                    else:
                        refs = client.fetch(path.encode(), repo, determine_wants=wanted, depth=depth).refs
                keep_refs(repo, refs, sha)
                if depth in (None, UNSHALLOW) or not repo.get_shallow() or history_reaches(repo, sha, base):
                    break
                depth = min(depth * DEPTH_GROWTH, UNSHALLOW)
            if not is_commit(repo, sha):
                raise CommitNotFound(f"commit {commit} is not in {self.url} (no ref reaches it)")
        return repo_path

    def move_branch(self, commit: str, branch: str = "main") -> PushResult:
        """Point the remote's `branch` at `commit`, a commit the remote holds already: a ref update with
        an empty pack, nothing fetched (a rollback: an env's repo holds every commit that ran there).

        A local remote is checked first (CommitNotFound if it lacks the commit); over HTTPS git's
        receive-pack checks the new ref's connectivity itself and refuses otherwise (PushRejected).
        """
        sha = commit_id(commit)
        self._check_local_holds(*self._client(), sha)

        from path2prod.adapters.git_depth import no_objects

        return self._send(sha, branch, no_objects, lambda old: None)

    def push_commit(self, commit: str, local_repo: Path, branch: str = "main", *, force: bool) -> PushResult:
        """Point the remote's `branch` at `commit`, sending the objects it lacks from `local_repo`.

        Without `force`, a push that would drop commits from the branch raises NotFastForward before
        anything is sent. With `force` it is what git's "+<commit>:refs/heads/<branch>" refspec does:
        the branch may move anywhere, back to an older commit included (a rollback). Either way the
        update names the head the remote advertised, so a branch moved meanwhile makes the remote
        refuse (PushRejected) instead of losing that move. Pushing the commit the branch already
        names changes nothing and returns old == new.
        """
        from dulwich.repo import Repo

        from path2prod.adapters.git_depth import history_reaches

        sha = commit_id(commit)
        with Repo(str(local_repo)) as repo:
            if not is_commit(repo, sha):
                raise CommitNotFound(f"commit {commit} is not in {local_repo}; fetch it first")

            def check_old(old: ObjectID) -> None:
                if not force and not _contains(repo, sha, old):
                    raise NotFastForward(branch, old.decode("ascii"), commit)
                if not history_reaches(repo, sha, old):
                    # A shallow copy that does not reach the remote's head cannot tell which objects
                    # the remote lacks; a pack short of them would leave the branch on a broken history.
                    raise CommitNotFound(
                        f"the copy of {commit} in {local_repo} does not reach {old.decode('ascii')}, "
                        f"the head of {branch}; fetch it down to that head first"
                    )

            def generate_pack_data(
                have: Set[ObjectID],
                want: Set[ObjectID],
                *,
                ofs_delta: bool = False,
                progress: Callable[[bytes], None] | None = None,
            ) -> tuple[int, Iterator[UnpackedObject]]:
                return repo.generate_pack_data(set(have), set(want), ofs_delta=ofs_delta)

            return self._send(sha, branch, generate_pack_data, check_old)

    def _send(
        self,
        sha: ObjectID,
        branch: str,
        generate_pack_data: Callable[..., tuple[int, Iterator[UnpackedObject]]],
        check_old: Callable[[ObjectID], None],
    ) -> PushResult:
        """send_pack: `branch` from the head the remote advertises to `sha`; `check_old` may refuse."""
        # The client's send_pack, not porcelain.push: porcelain wants a local ref name on the left of
        # the refspec (a bare commit id is a KeyError) and signals a non-fast-forward with
        # porcelain.DivergedBranches. In dulwich 1.2 there is no UpdateRefsError any more: a remote's
        # refusal of a ref comes back in SendPackResult.ref_status, a refused pack as SendPackError.
        from dulwich.errors import SendPackError
        from dulwich.file import FileLocked

        ref = _branch_ref(branch)
        client, path = self._client()
        remote_output = bytearray()
        advertised: dict[str, ObjectID | None] = {}

        def update_refs(remote_refs: dict[Ref, ObjectID]) -> dict[Ref, ObjectID]:
            old = remote_refs.get(ref)
            advertised["old"] = old
            if old is not None and old != sha:
                check_old(old)
            return {ref: sha}

        try:
            with _remote_errors():
                result = client.send_pack(
                    path.encode(),
                    update_refs,
                    generate_pack_data=generate_pack_data,
                    progress=remote_output.extend,
                )
        except SendPackError as error:
            raise PushRejected(branch, _reason(error.args, remote_output)) from error
        except FileLocked as error:
            # A local remote's ref held by another update (git: "cannot lock ref").
            raise PushRejected(branch, f"cannot lock {ref.decode()}: another update holds it") from error

        status = (result.ref_status or {}).get(ref)
        if status is not None:
            raise PushRejected(branch, _reason((status,), remote_output))
        old = advertised.get("old")
        return PushResult(old=old.decode("ascii") if old else None, new=sha.decode("ascii"))

    def _check_local_holds(self, client: GitClient, path: str, sha: ObjectID) -> None:
        """A local remote (the sandbox's) lacking `sha`: CommitNotFound, as git's server would say."""
        from path2prod.adapters.git_depth import is_local

        if is_local(client):
            from dulwich.repo import Repo

            with _remote_errors(), Repo(path) as remote:
                if not is_commit(remote, sha):
                    raise CommitNotFound(f"commit {sha.decode('ascii')} is not in {self.url}")

    def _client(self) -> tuple[GitClient, str]:
        from dulwich.client import get_transport_and_path

        with _remote_errors():
            return get_transport_and_path(self.url, username=self._username, password=self._password)


def commit_id(commit: str) -> ObjectID:
    from dulwich.objects import ObjectID

    normalized = commit.strip().lower()
    if not _FULL_SHA.fullmatch(normalized):
        raise InvalidCommitId(f"not a full commit id: {commit!r}")
    return ObjectID(normalized.encode("ascii"))


def _branch_ref(branch: str) -> Ref:
    from dulwich.refs import Ref

    return Ref(f"refs/heads/{branch.removeprefix('refs/heads/')}".encode())


def cache_name(url: str) -> str:
    """A directory name per remote: readable tail, plus a digest so two remotes never share one."""
    tail = re.sub(r"[^A-Za-z0-9._-]+", "-", url.rstrip("/").rsplit("/", 1)[-1]).strip("-.") or "repo"
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return f"{tail.removesuffix('.git')}-{digest}.git"


def _open_or_init_bare(path: Path) -> Repo:
    from dulwich.repo import Repo

    if not (path / "objects").is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return Repo.init_bare(str(path), mkdir=True)
        except FileExistsError:
            pass  # another fetch created it meanwhile
    return Repo(str(path))


def is_commit(repo: Repo, sha: ObjectID) -> bool:
    from dulwich.objects import Commit

    try:
        return isinstance(repo.object_store[sha], Commit)
    except KeyError:
        return False


def _contains(repo: Repo, commit: ObjectID, ancestor: ObjectID) -> bool:
    """Whether `ancestor` is `commit` or in its history, i.e. moving a branch to `commit` loses nothing."""
    from dulwich.graph import can_fast_forward

    try:
        return can_fast_forward(repo, ancestor, commit)
    except KeyError:
        # The remote's head is not in the local history at all, so the commit cannot contain it.
        return False


def _reason(args: tuple[object, ...], remote_output: bytes | bytearray) -> str:
    """The remote's own words: the status it gave, and whatever its hooks printed."""
    parts = [a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in args if a]
    said = remote_output.decode("utf-8", "replace").strip()
    if said:
        parts.append(said)
    return "; ".join(parts) or "no reason given"


@contextmanager
def _remote_errors() -> Iterator[None]:
    """Translate dulwich's and the network's failures to reach a remote into RemoteUnavailable.

    SendPackError passes through: the remote did answer, and push_commit reports it as a refusal.
    """
    from dulwich.client import HTTPProxyUnauthorized, HTTPUnauthorized
    from dulwich.errors import GitProtocolError, NotGitRepository, SendPackError
    from urllib3.exceptions import HTTPError as TransportError

    try:
        yield
    except (GitRemoteError, SendPackError):
        raise
    except (
        HTTPUnauthorized,
        HTTPProxyUnauthorized,
        NotGitRepository,
        GitProtocolError,
        TransportError,
        OSError,
    ) as error:
        raise RemoteUnavailable(f"cannot use the git remote: {error or type(error).__name__}") from error

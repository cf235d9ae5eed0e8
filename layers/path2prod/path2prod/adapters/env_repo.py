"""An env's own git repository (its `main` is what runs there), reached as the deployed stack or the
sandbox would: CodeCommit over HTTPS with SigV4-derived credentials, or a local bare repository."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from path2prod.adapters.errors import RemoteUnavailable
from path2prod.adapters.git_depth import cached_repo
from path2prod.adapters.git_remote import GitRemote, codecommit_git_credentials
from path2prod.domain.git import CommitInfo, PushResult
from path2prod.domain.time import utc_now

if TYPE_CHECKING:
    from path2prod.domain.review_facts import PromotedRange

# An assumed role's session is reused until this close to its expiry (it lives 15 minutes).
_REUSE_MARGIN = timedelta(minutes=2)


class EnvRepository:
    """`main` of one env's repository: read it, fetch commits from it, and move it.

    `role_arn` is assumed first when the repository is another account's (a promotion reads the
    upstream env's repository with a role that account grants for that purpose).
    """

    def __init__(
        self,
        url: str,
        *,
        region: str | None = None,
        session: Any = None,
        cache_dir: Path | None = None,
        role_arn: str | None = None,
    ):
        self.url = url
        self.region = region
        self.role_arn = role_arn
        self._session = session
        self._assumed: tuple[Any, datetime] | None = None  # the role's session and when it expires
        # Lambda's /tmp survives warm invocations: the fetched objects are reused.
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "path2prod-git"

    def _aws_session(self) -> Any:
        import boto3

        session = self._session or boto3.Session()
        if not self.role_arn:
            return session
        # The role's session is reused while it has a while to live: one promotion reads the upstream
        # repository twice (the commit's facts, then its history down to the target's main), and a
        # warm container keeps reading it. Past that margin it is assumed anew (the credentials expire).
        if self._assumed is not None and self._assumed[1] - utc_now() > _REUSE_MARGIN:
            return self._assumed[0]
        credentials = session.client("sts", region_name=self.region or session.region_name).assume_role(
            RoleArn=self.role_arn, RoleSessionName="path2prod-promotion", DurationSeconds=900
        )["Credentials"]
        assumed = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self.region or session.region_name,
        )
        self._assumed = (assumed, credentials["Expiration"])
        return assumed

    def _remote(self) -> GitRemote:
        if not self.url.startswith("https://"):
            if self.role_arn:
                # A local repository needs no credentials; the role is still assumed, so a sandbox
                # promotion crosses accounts the way it does in AWS.
                self._aws_session()
            return GitRemote(self.url)
        session = self._aws_session()
        credentials = session.get_credentials()
        if credentials is None:
            raise RemoteUnavailable(f"no AWS credentials to sign git requests to {self.url}")
        region = self.region or session.region_name
        # Derived anew for each use: the password is a signature that expires within minutes.
        username, password = codecommit_git_credentials(self.url, credentials, region)
        return GitRemote(self.url, username=username, password=password)

    def main_head(self) -> str | None:
        """The commit `main` names now."""
        return self._remote().branch_head("main")

    def fetch(self, commit: str, down_to: str | None) -> Path:
        """A local bare repository holding `commit` and its history down to `down_to` (what the other
        side has, e.g. a target's main; None: all of it), fetched from this repository unless cached:
        only what is missing travels (GitRemote.fetch_commit)."""
        return cached_repo(self.url, commit, self.cache_dir, down_to) or self._remote().fetch_commit(
            commit, self.cache_dir, down_to=down_to
        )

    def commit_info(self, commit: str) -> CommitInfo:
        """Author, message and author time of `commit`, as this repository has it (that commit alone
        is fetched)."""
        # Reading commits' facts (git_history.py, and the review facts it builds) is the approvals
        # function's alone, which imports this module on its first event anyway: the rollback, which
        # imports it at init, and the promoter never load them (cold import, docs/benchmarks.md).
        from path2prod.adapters import git_history

        return git_history.commit_info(self.fetch(commit, commit), commit)

    def promoted_range(self, commit: str, target_head: str | None) -> PromotedRange:
        """The commits of this repository that promoting `commit` brings to a branch at `target_head`
        (another env's main): reachable from `commit`, not from `target_head` (see git_remote). The
        history is fetched down to `target_head` only."""
        from path2prod.adapters import git_history  # the approvals function's alone (commit_info)

        return git_history.promoted_range(self.fetch(commit, target_head), commit, target_head)

    def force_main(self, commit: str) -> PushResult:
        """Point `main` at `commit`, which ran here before, so this repository holds it: a ref update
        with an empty pack, nothing fetched (GitRemote.move_branch)."""
        return self._remote().move_branch(commit, "main")

    def push_main(self, commit: str, local_repo: Path, *, force: bool) -> PushResult:
        """Point `main` at `commit`, sending what it lacks from `local_repo`; without `force`, only as
        a fast-forward (else NotFastForward, and nothing is sent)."""
        return self._remote().push_commit(commit, local_repo, "main", force=force)

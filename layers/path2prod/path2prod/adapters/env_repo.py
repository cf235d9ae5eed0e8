"""An env's own git repository (its `main` is what runs there), reached as the deployed stack or the
sandbox would: CodeCommit over HTTPS with SigV4-derived credentials, or a local bare repository."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from path2prod.adapters.git_remote import GitRemote, PushResult, RemoteUnavailable, codecommit_git_credentials


class EnvRepository:
    """`main` of one env's repository: read it, and move it to a commit that repository already has."""

    def __init__(
        self, url: str, *, region: str | None = None, session: Any = None, cache_dir: Path | None = None
    ):
        self.url = url
        self.region = region
        self._session = session
        # Lambda's /tmp survives warm invocations: the fetched objects are reused.
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "path2prod-git"

    def _remote(self) -> GitRemote:
        if not self.url.startswith("https://"):
            return GitRemote(self.url)
        import boto3

        session = self._session or boto3.Session()
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

    def force_main(self, commit: str) -> PushResult:
        """Point `main` at `commit` (a force push: the commit ran here before, so the repo has it)."""
        remote = self._remote()
        local = remote.fetch_commit(commit, self.cache_dir)
        return self._remote().push_commit(commit, local, "main", force=True)

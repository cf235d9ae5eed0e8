"""The git CLI under a fixed identity, for every suite, and real repositories for the integration tests:
a bare repo (what the git adapters talk to) and a working clone to make commits in."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Alice Example",
    "GIT_AUTHOR_EMAIL": "alice@example.com",
    "GIT_COMMITTER_NAME": "Alice Example",
    "GIT_COMMITTER_EMAIL": "alice@example.com",
    # The developer's own git configuration (signing, hooks path, default branch) must not leak in.
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True) -> str:
    """Run the git CLI with a fixed identity and none of the developer's configuration (`env` adds to
    or overrides it); return its stripped stdout. Raises CalledProcessError when git fails (unless
    not `check`)."""
    completed = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV, **(env or {})},
        capture_output=True,
        text=True,
        check=check,
    )
    return completed.stdout.strip()


@dataclass
class Repo:
    """A bare repo with a working clone (its `origin`) to make commits in."""

    bare: Path
    work: Path

    def commit(self, message: str, *, env: dict[str, str] | None = None) -> str:
        """A new commit in the clone (not pushed); returns its sha."""
        with (self.work / "app.txt").open("a") as file:
            file.write(message + "\n")
        git("add", "app.txt", cwd=self.work)
        git("commit", "--quiet", "-m", message, cwd=self.work, env=env)
        return git("rev-parse", "HEAD", cwd=self.work)

    def publish(self, ref: str = "HEAD:refs/heads/main", *, force: bool = False) -> None:
        """git push origin REF."""
        git("push", "--quiet", *(["--force"] if force else []), "origin", ref, cwd=self.work)

    def push_main(self, commit: str) -> None:
        """What a promotion (or a person) does: point the bare repo's main at `commit`."""
        self.publish(f"{commit}:refs/heads/main", force=True)

    @property
    def main(self) -> str:
        return git("--git-dir", str(self.bare), "rev-parse", "refs/heads/main")

    def main_ref_version(self) -> tuple[int, int]:
        """Changes whenever anything rewrites the ref (git and dulwich both replace the file)."""
        stat = (self.bare / "refs" / "heads" / "main").stat()
        return stat.st_ino, stat.st_mtime_ns


def make_repo(root: Path, name: str) -> Repo:
    """An empty bare repo `root/<name>.git` (branch main) and its clone `root/<name>-work`."""
    bare = root / f"{name}.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    work = root / f"{name}-work"
    git("init", "--quiet", "--initial-branch=main", str(work))
    git("remote", "add", "origin", str(bare), cwd=work)
    return Repo(bare, work)


def load_history(work: Path, commits: int, *, files: int = 200, blob_bytes: int = 4096) -> str:
    """Append `commits` generated commits to the clone `work`'s main with `git fast-import`, and check
    them out; returns the new head. Each commit rewrites one of `files` text files (round robin) with
    `blob_bytes` of fresh random hex, so the history grows by about blob_bytes/2 per commit packed,
    as a repository of years does, and a checkout holds files * blob_bytes. Seconds for 20,000
    commits, where one `git commit` each would take minutes."""
    import random

    rng = random.Random(commits * 7919 + files)
    parent = git("rev-parse", "--verify", "--quiet", "refs/heads/main", cwd=work, check=False)
    stamp = 1_600_000_000
    stream = bytearray()
    for number in range(commits):
        body = rng.randbytes(blob_bytes // 2).hex().encode()
        lines = b"\n".join(body[i : i + 64] for i in range(0, len(body), 64)) + b"\n"
        message = f"change {number}\n".encode()
        stream += b"commit refs/heads/main\n"
        stream += f"committer Alice Example <alice@example.com> {stamp + number * 600} +0000\n".encode()
        stream += b"data %d\n%s" % (len(message), message)
        if number == 0 and parent:
            stream += f"from {parent}\n".encode()
        stream += b"M 100644 inline src/module_%03d.txt\n" % (number % files)
        stream += b"data %d\n%s\n" % (len(lines), lines)
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=work,
        env={**os.environ, **GIT_ENV},
        input=bytes(stream),
        check=True,
    )
    git("reset", "--quiet", "--hard", "refs/heads/main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def commit_app(clone: Path, buildspec: str, message: str) -> str:
    """A commit of the sample app in `clone`: this buildspec and a one-line app.txt (not pushed); its sha."""
    (clone / "buildspec.yml").write_text(buildspec)
    (clone / "app.txt").write_text(message + "\n")
    git("add", "--all", cwd=clone)
    git("commit", "--quiet", "-m", message, cwd=clone)
    return git("rev-parse", "HEAD", cwd=clone)

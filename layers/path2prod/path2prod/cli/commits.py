"""Naming a commit on the command line: a full sha, a unique short sha, or a ref such as `HEAD`.

The ledger keys commits by the full sha and DynamoDB cannot Query a key by prefix, so a short sha or
a ref is resolved by git: first in the current directory's repository (the app clone you work in),
then, with a sandbox, in its envs' repositories. A name that resolves to two commits is refused.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from path2prod import ENVS
from path2prod.cli.errors import UnknownCommit

_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# What `git check-ref-format` and short shas allow, minus what could be read as an option or a range.
_COMMIT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./@{}~^-]{0,199}")


def resolve_commit(name: str, home: Path | None = None, *, cwd: Path | None = None) -> str:
    """The full sha that `name` means (a full sha is taken as it is, lowercased)."""
    text = name.strip()
    if _FULL_SHA.fullmatch(text.lower()):
        return text.lower()
    if not _COMMIT_NAME.fullmatch(text) or ".." in text:
        raise UnknownCommit(f"{name!r} is not a commit: give a full or short sha, or a ref such as HEAD")
    found = {sha for sha in (_rev_parse(text, git_dir) for git_dir in _repositories(home, cwd)) if sha}
    if len(found) == 1:
        return found.pop()
    if found:
        shas = ", ".join(sorted(found))
        raise UnknownCommit(f"{name!r} is ambiguous: it names {len(found)} commits ({shas})")
    where = "the current directory's repository" + (" or the sandbox's repos" if home else "")
    raise UnknownCommit(
        f"{name!r} names no commit in {where}: run in a clone of the app, or pass the full 40-digit sha"
    )


def _repositories(home: Path | None, cwd: Path | None) -> list[list[str]]:
    """git's options to address each repository to look in: the working directory's, then the sandbox's."""
    places = [["-C", str(cwd or Path.cwd())]]
    if home:
        places += [["--git-dir", str(home / "repos" / f"{env}.git")] for env in ENVS]
    return places


def _rev_parse(name: str, place: list[str]) -> str | None:
    try:
        result = subprocess.run(
            ["git", *place, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    sha = result.stdout.strip().lower()
    return sha if result.returncode == 0 and _FULL_SHA.fullmatch(sha) else None

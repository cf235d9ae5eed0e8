"""The local pipeline reads `main` from the ref files instead of starting git every 0.3 s: it must read
what `git rev-parse` reads, wherever git keeps the ref (a loose ref, packed-refs, both)."""

from __future__ import annotations

from pathlib import Path

from path2prod.sandbox.pipeline import read_main
from tests.support.git import git, make_repo


def test_main_is_read_as_git_reads_it_loose_packed_or_both(tmp_path: Path) -> None:
    # GIVEN an empty bare repo: no main yet
    repo = make_repo(tmp_path, "dev")
    assert read_main(repo.bare) is None

    # WHEN a commit is pushed (a loose ref)
    first = repo.commit("first")
    repo.publish()

    # THEN main is that commit
    assert read_main(repo.bare) == first == repo.main

    # WHEN git packs the refs (the loose ref goes, packed-refs holds it)
    git("--git-dir", str(repo.bare), "pack-refs", "--all")
    assert not (repo.bare / "refs" / "heads" / "main").exists()

    # THEN main is still read, from packed-refs
    assert read_main(repo.bare) == first

    # WHEN a new commit is pushed over the packed ref (a loose ref again, the packed one stale)
    second = repo.commit("second")
    repo.publish()

    # THEN the loose ref wins, as in git
    assert read_main(repo.bare) == second == repo.main

    # WHEN main is moved back, as a rollback does (a forced push)
    repo.push_main(first)

    # THEN main is the first commit again
    assert read_main(repo.bare) == first == repo.main

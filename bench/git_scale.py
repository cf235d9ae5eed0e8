"""Git by need at scale: rollback push and promotion push against repositories of 100 to 20,000 commits.

For each history length, generates an upstream env's repository (tests/support/git.py `load_history`:
`--files` text files, `--blob-bytes` of fresh text per commit, packed by `git fast-import`) and a
target env's repository (a bare clone whose main is 3 commits behind), then times, each from a cold
Lambda /tmp (an empty cache directory) and through the adapters the functions use (EnvRepository):

- approval -> promotion push: the candidate (upstream's head) fetched down to the target's main, and
  pushed there (what approvals/promoting.py does);
- failure -> rollback push: the target's main moved back to the commit before (rollback/service.py's
  force_main).

It reports the median of `--repeat` runs, the ratio to the first (smallest) history in the same run,
the bytes the fetch wrote (the cache copy: what travelled, since a fetch stores the pack it received)
and the /tmp cache's size after both steps. Run against a checkout before issue 13's change, it times
the old adapters (whole-repository fetch; rollback fetching before it pushes) the same way.

    PYTHONPATH=layers/path2prod:. .venv/bin/python bench/git_scale.py [--commits 100,2000,20000] [--json]

docs/benchmarks.md ("Git by need") keeps the figures.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ is on sys.path, the checkout is not
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, progress
from path2prod.adapters.env_repo import EnvRepository
from tests.support.git import git, load_history, make_repo

# The adapters before issue 13 fetched without a `down_to`: the bench times whichever it finds.
BY_NEED = "down_to" in inspect.signature(EnvRepository.fetch).parameters


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def promote(upstream: str, target: EnvRepository, head: str) -> None:
    """approvals/promoting.py's push: the candidate fetched from upstream, pushed to the target's main."""
    source = EnvRepository(upstream, cache_dir=target.cache_dir)
    local = source.fetch(head, target.main_head()) if BY_NEED else source.fetch(head)  # type: ignore[call-arg]
    target.push_main(head, local, force=False)


def one_size(root: Path, commits: int, files: int, blob_bytes: int, repeat: int) -> dict[str, Any]:
    upstream = make_repo(root, f"up{commits}")
    upstream.commit("first")
    started = time.monotonic()
    head = load_history(upstream.work, commits, files=files, blob_bytes=blob_bytes)
    upstream.publish()
    generated_s = time.monotonic() - started
    before = git("rev-parse", "HEAD~3", cwd=upstream.work)
    target_bare = root / f"target{commits}.git"
    git("clone", "--quiet", "--bare", str(upstream.bare), str(target_bare))
    promotion_s, rollback_s, fetched, tmp_used = [], [], [], []
    for run in range(repeat):
        git("--git-dir", str(target_bare), "update-ref", "refs/heads/main", before)
        cache = root / f"cache-{commits}-{run}"
        target = EnvRepository(str(target_bare), cache_dir=cache)
        started = time.monotonic()
        promote(str(upstream.bare), target, head)
        promotion_s.append(time.monotonic() - started)
        fetched.append(tree_bytes(cache))
        assert git("--git-dir", str(target_bare), "rev-parse", "main") == head
        # The rollback runs in the target env's own Lambda: its /tmp is cold too.
        target = EnvRepository(str(target_bare), cache_dir=root / f"cache-rb-{commits}-{run}")
        started = time.monotonic()
        target.force_main(before)
        rollback_s.append(time.monotonic() - started)
        tmp_used.append(tree_bytes(root / f"cache-rb-{commits}-{run}") + tree_bytes(cache))
        assert git("--git-dir", str(target_bare), "rev-parse", "main") == before
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(root / f"cache-rb-{commits}-{run}", ignore_errors=True)
    return {
        "commits": commits,
        "repo_bytes": tree_bytes(upstream.bare),
        "generate_s": round(generated_s, 1),
        "promotion_s": round(statistics.median(promotion_s), 3),
        "rollback_s": round(statistics.median(rollback_s), 3),
        "promotion_fetched_bytes": int(statistics.median(fetched)),
        "tmp_bytes": int(statistics.median(tmp_used)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commits", default="100,2000,20000", help="history lengths, comma-separated")
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--blob-bytes", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(n) for n in args.commits.split(",")]
    root = Path(tempfile.mkdtemp(prefix="p2p-git-scale-"))
    load_before = os.getloadavg()[0]
    rows = []
    try:
        for commits in sizes:
            progress(f"{commits} commits ...")
            rows.append(one_size(root, commits, args.files, args.blob_bytes, args.repeat))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base = rows[0]
    for row in rows:
        row["promotion_ratio"] = round(row["promotion_s"] / base["promotion_s"], 2)
        row["rollback_ratio"] = round(row["rollback_s"] / base["rollback_s"], 2)
    report = {
        "adapters": "by need" if BY_NEED else "whole repository (before issue 13)",
        "rows": rows,
        "load_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "machine": machine(),
    }
    if args.json:
        print(json.dumps(report))
        return
    print(f"adapters: {report['adapters']}")
    columns = list(rows[0])
    print("  ".join(columns))
    for row in rows:
        print("  ".join(str(row[c]) for c in columns))
    print(f"load (1 min) before/after: {report['load_before_after']}")


if __name__ == "__main__":
    main()

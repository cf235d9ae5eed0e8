"""Issue 13's Done-when for git, as a user would try it: rollback in prd with 3,000 commits of history.

Starts a throw-away sandbox (`path2prod local up`, as tests/e2e/conftest.py does), loads `--commits`
generated commits (tests/support/git.py `load_history`: `--blob-bytes` of fresh text per commit,
about 29 MB packed at 3,000 x 16 KiB) into a clone of dev's repo, promotes a good commit G through
dev, stg and prd (pushed with git as the e2e tests do, one `local wait` after each), then a commit B
that passes dev and stg and fails in prd. It prints how long after prd's FAILED entry for B prd's
`main` was back on G: the ref file's mtime (dulwich replaces the file when it moves the ref) minus
the entry's time. Then `local down`.

    PYTHONPATH=layers/path2prod:. .venv/bin/python bench/rollback_at_scale.py [--commits 3000] [--json]

docs/benchmarks.md ("Git by need") keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ is on sys.path, the checkout is not
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine
from tests.support.git import commit_app as commit
from tests.support.git import git, load_history

# path2prod.cli.main has no __main__ guard: call its entry point as the `path2prod` script does.
CLI = "import sys; from path2prod.cli.main import main; sys.argv[0] = 'path2prod'; main()"
PASSING = "version: 0.2\nphases:\n  build:\n    commands:\n      - test -f app.txt\n"
FAILS_IN_PRD = 'version: 0.2\nphases:\n  build:\n    commands:\n      - test "$PATH2PROD_ENV" != prd\n'


def cli(home: Path, *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", CLI, *args, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"path2prod {' '.join(args)} exited {completed.returncode}: {completed.stderr}")
    return completed.stdout


def history(home: Path, env: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(cli(home, "ledger", "history", env, "--json"))
    return entries


def promote(home: Path, clone: Path, sha: str, envs: tuple[str, ...]) -> None:
    for env in envs:
        git(
            "push",
            "--quiet",
            "--force",
            str(home / "repos" / f"{env}.git"),
            f"{sha}:refs/heads/main",
            cwd=clone,
        )
        cli(home, "local", "wait", "--timeout", "120")


def story(home: Path, commits: int, blob_bytes: int) -> dict[str, Any]:
    clone = home.parent / "app"
    git("clone", "--quiet", str(home / "repos" / "dev.git"), str(clone))
    git("checkout", "--quiet", "-B", "main", cwd=clone)
    started = time.monotonic()
    if commits:  # 0: a fresh repository, the figure to compare with
        load_history(clone, commits, blob_bytes=blob_bytes)
    loaded_s = time.monotonic() - started
    good = commit(clone, PASSING, "G")
    promote(home, clone, good, ("dev", "stg", "prd"))
    bad = commit(clone, FAILS_IN_PRD, "B")
    promote(home, clone, bad, ("dev", "stg"))
    main_ref = home / "repos" / "prd.git" / "refs" / "heads" / "main"
    git("push", "--quiet", "--force", str(home / "repos" / "prd.git"), f"{bad}:refs/heads/main", cwd=clone)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if git("--git-dir", str(home / "repos" / "prd.git"), "rev-parse", "main") == good:
            break
        time.sleep(0.05)
    else:
        raise SystemExit("prd's main did not come back to G within 180 s")
    moved_at = main_ref.stat().st_mtime
    failed = [
        e
        for e in history(home, "prd")
        if e["commit"] == bad and e["kind"] == "deployment" and e["state"] == "FAILED"
    ]
    failed_at = datetime.fromisoformat(failed[0]["time"].replace("Z", "+00:00")).timestamp()
    pack_bytes = sum(
        p.stat().st_size for p in (home / "repos" / "dev.git" / "objects").rglob("*") if p.is_file()
    )
    return {
        "commits": commits,
        "dev_repo_bytes": pack_bytes,
        "history_load_s": round(loaded_s, 1),
        "failed_entry_time": failed[0]["time"],
        "main_back_after_failed_s": round(moved_at - failed_at, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--blob-bytes", type=int, default=16384)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="p2p-rollback-scale-"))
    home = root / "sandbox"
    home.mkdir(parents=True)
    load_before = os.getloadavg()
    cli(home, "local", "up", "--json")
    try:
        figures = story(home, args.commits, args.blob_bytes)
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"{error.cmd} failed: {error.stderr}") from error
    finally:
        down = subprocess.run(
            [sys.executable, "-c", CLI, "local", "down", "--home", str(home), "--timeout", "120"],
            capture_output=True,
            text=True,
            check=False,
        )
        print(
            f"local down: exit {down.returncode} {down.stdout.strip()} {down.stderr.strip()}", file=sys.stderr
        )
        shutil.rmtree(root, ignore_errors=True)
    figures["load_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    figures["machine"] = machine()
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()

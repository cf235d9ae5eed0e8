"""Recorder invocations per pipeline run: how many events the template's rule hands the recorder.

Starts a throw-away sandbox (the rules are template.yaml's own patterns, `--template` another one's),
pushes one commit with a passing buildspec to dev's repo, waits until the sandbox is idle, and counts
dev's recorder invocations (each has its own request id in HOME/logs/dev-recorder.log: Powertools logs
every event it is given) and what each did (commit learnt, recorded, ignored). The local pipeline puts
the six events a CodePipeline run of Source and Build puts: the execution STARTED, each action's
STARTED and outcome, the execution's outcome.

    .venv/bin/python bench/recorder_invocations.py [--runs 2] [--template OTHER/template.yaml] [--json]

docs/benchmarks.md ("Recorder invocations per pipeline run") keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ is on sys.path, the checkout is not
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, progress
from path2prod.sandbox import lifecycle
from path2prod.sandbox.home import SandboxHome
from tests.support.git import git

ENV = "dev"
PASSING_BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands:\n      - test -f app.txt\n"


def invocations(home: SandboxHome) -> dict[str, str]:
    """Each invocation of dev's recorder so far: request id -> what it did ("?" until it says)."""
    seen: dict[str, str] = {}
    for line in (home.logs_dir / f"{ENV}-recorder.log").read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        request = record.get("function_request_id") if isinstance(record, dict) else None
        if not request:
            continue
        seen.setdefault(request, "?")
        if record.get("message") == "pipeline event handled":  # recorder/wiring.py's outcome line
            seen[request] = str(record.get("result"))
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="pipeline runs (one pushed commit each)")
    parser.add_argument("--template", type=Path, help="another template.yaml (with functions/ beside it)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    path = Path(tempfile.mkdtemp(prefix="path2prod-invocations-"))
    home = SandboxHome(path)
    report: dict[str, Any] = {"machine": machine(), "template": str(args.template or "template.yaml")}
    per_run: list[int] = []
    try:
        progress(f"starting a sandbox in {path}")
        lifecycle.start(home, template=args.template)
        clone = path / "work" / "app"
        git("clone", "--quiet", str(home.repo(ENV)), str(clone))
        git("checkout", "--quiet", "-B", "main", cwd=clone)
        (clone / "buildspec.yml").write_text(PASSING_BUILDSPEC)
        for run in range(1, args.runs + 1):
            before = len(invocations(home))
            (clone / "app.txt").write_text(f"run {run}\n")
            git("add", "--all", cwd=clone)
            git("commit", "--quiet", "-m", f"run {run}", cwd=clone)
            git("push", "--quiet", "origin", "main", cwd=clone)
            lifecycle.wait_idle(home, timeout=180)
            per_run.append(len(invocations(home)) - before)
            progress(f"run {run}: {per_run[-1]} recorder invocations")
        report["invocations_per_run"] = per_run
        report["outcomes"] = dict(Counter(invocations(home).values()))
    finally:
        lifecycle.stop(home, drain_timeout=30)
        shutil.rmtree(path, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"recorder invocations per pipeline run: {per_run} ({report['template']})")
    print(f"what they did: {report['outcomes']}")


if __name__ == "__main__":
    main()

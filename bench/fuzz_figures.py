"""The fuzz figures of docs/security.md: hostile events against every handler, counted by outcome.

Runs tests/integration/test_event_fuzz.py (the four handlers' inputs) and test_own_events_fuzz.py (the
approvals function's own-bus rejection and ask-again events) with more cases than `make test` does
(FUZZ_EXAMPLES, default 2,000 per handler) and random ones (a new draw each run), then prints one
Markdown table row per handler.
Usage: make fuzz  (or: .venv/bin/python bench/fuzz_figures.py [EXAMPLES])
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = [
    ("acted", "acted as the event meant"),
    ("handled, nothing to write", "handled, nothing new (duplicate, ignored)"),
    ("invalid", "refused: InvalidEvent, nothing written"),
    ("retried", "retried: commit not known yet, nothing written"),
    ("wrong error type", "another error type"),
    ("written on error", "written, then failed"),
    ("written wrongly", "written, not as meant"),
]


def main() -> int:
    examples = sys.argv[1] if len(sys.argv) > 1 else "2000"
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "fuzz.jsonl"
        env = {**os.environ, "FUZZ_EXAMPLES": examples, "FUZZ_RANDOM": "1", "FUZZ_REPORT": str(report)}
        print(f"fuzzing every handler with {examples} cases each (a few minutes)...", file=sys.stderr)
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/integration/test_event_fuzz.py",
                "tests/integration/test_own_events_fuzz.py",
            ],
            cwd=ROOT,
            env=env,
            check=False,
        )
        tallies = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    print("| handler | cases | " + " | ".join(title for _, title in COLUMNS) + " |")
    print("|---|---:|" + "---:|" * len(COLUMNS))
    for tally in tallies:
        counts = Counter({key: value for key, value in tally.items() if key != "handler"})
        cells = " | ".join(str(counts[key]) for key, _ in COLUMNS)
        print(f"| {tally['handler']} | {sum(counts.values())} | {cells} |")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())

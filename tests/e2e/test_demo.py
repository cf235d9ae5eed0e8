"""`path2prod demo` (what `make demo` runs) tells the story and leaves nothing running."""

from __future__ import annotations

import re

import pytest

from .conftest import run_cli

pytestmark = pytest.mark.e2e


def test_demo_records_one_passing_and_one_failing_commit() -> None:
    # WHEN
    result = run_cli("demo")

    # THEN
    rows = [line.split() for line in result.stdout.splitlines() if re.match(r"^\d{4}-\d\d-\d\dT", line)]
    final_states = {row[1] for row in rows} - {"STARTED"}
    assert final_states == {"SUCCEEDED", "FAILED"}
    assert all(re.fullmatch(r"[0-9a-f]{40}", row[3]) for row in rows)
    assert "cleaning up" in result.stdout

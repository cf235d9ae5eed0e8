"""`path2prod demo` (what `make demo` runs) tells the story: the one time the e2e suite tells it.

The demo keeps its sandbox here (`--keep`), so the rollback modules go on from its end rather than tell
the story again (tests/conftest.py's SHARED_SANDBOXES); `make demo` itself runs it without `--keep`.
"""

from __future__ import annotations

import re

import pytest

from .conftest import DemoRun

# Among the slowest: the whole story; `make quick` leaves it out, `make test` runs it.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_carries_a_commit_to_prd_on_approvals_and_rolls_back_a_bad_one(demo_run: DemoRun) -> None:
    # WHEN `path2prod demo` ran (the session's fixture)
    output = demo_run.output

    # THEN every ledger row names a full commit
    rows = [line.split() for line in output.splitlines() if re.match(r"^\d{4}-\d\d-\d\dT", line)]
    assert rows and all(re.fullmatch(r"[0-9a-f]{40}", row[3]) for row in rows)
    kinds_and_states = {(row[2], row[1]) for row in rows}
    # AND the story happened: deployments passed and failed, promotions were approved and pushed,
    # and prd was rolled back
    assert {("deployment", "SUCCEEDED"), ("deployment", "FAILED")} <= kinds_and_states
    assert {
        ("approval", "REQUESTED"),
        ("approval", "APPROVED"),
        ("promotion", "SUCCEEDED"),
    } <= kinds_and_states
    assert ("rollback", "SUCCEEDED") in kinds_and_states
    assert "path2prod rolled prd back by itself" in output
    # AND the approvals went through the page over HTTP, the author's own approval refused
    assert "alice clicks Approve on her own commit: HTTP 403" in output
    assert output.count("clicks Approve (POST): HTTP 200") == 4
    # AND, kept, it says where its sandbox runs and how to stop it
    assert f"the sandbox keeps running in {demo_run.home}" in output

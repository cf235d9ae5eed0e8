"""`path2prod demo` (what `make demo` runs) tells the story and leaves nothing running."""

from __future__ import annotations

import re

import pytest

from .conftest import run_cli

# Among the slowest: a sandbox of its own (or two); `make quick` leaves it out, `make test` runs it.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_carries_a_commit_to_prd_on_approvals_and_rolls_back_a_bad_one() -> None:
    # WHEN
    result = run_cli("demo")

    # THEN every ledger row names a full commit
    rows = [line.split() for line in result.stdout.splitlines() if re.match(r"^\d{4}-\d\d-\d\dT", line)]
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
    # AND the approvals went through the page over HTTP, the author's own approval refused
    assert "alice clicks Approve on her own commit: HTTP 403" in result.stdout
    assert result.stdout.count("clicks Approve (POST): HTTP 200") == 4
    assert "cleaning up" in result.stdout

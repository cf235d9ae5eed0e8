"""`path2prod demo` (what `make demo` runs) tells the story: the one time the e2e suite tells it.

The demo keeps its sandbox here (`--keep`), so the rollback modules go on from its end rather than tell
the story again (tests/conftest.py's SHARED_SANDBOXES); `make demo` itself runs it without `--keep`.
"""

from __future__ import annotations

import json
import re

import pytest

from .conftest import DemoRun, history, main_of, run_cli

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
    # AND a commit pushed straight to prd was stopped by the gate (test below)
    assert ("gate", "REFUSED") in kinds_and_states
    # AND, kept, it says where its sandbox runs and how to stop it
    assert f"the sandbox keeps running in {demo_run.home}" in output


def test_demo_shows_a_commit_pushed_straight_to_prd_stopped_by_the_gate_before_its_build(
    demo_run: DemoRun,
) -> None:
    # GIVEN the demo's last step: H, made in a clone of prd's repo and pushed straight to prd
    match = re.search(
        r"H = ([0-9a-f]{12}) 'Hotfix made in prd's own clone': pushed straight to prd", demo_run.output
    )
    assert match, demo_run.output
    entries = history(demo_run.home, "prd")
    [gate] = [e for e in entries if e["kind"] == "gate" and e["commit"].startswith(match.group(1))]
    straight = gate["commit"]

    # THEN prd's gate refused it, one gate entry naming its execution, with a one-line reason
    assert (gate["state"], gate["reason"]) == ("REFUSED", f"no approval in prd for {straight[:12]}")
    assert f"prd's gate REFUSED H before its build: no approval in prd for {straight[:12]}" in demo_run.output
    # AND the execution failed before its build: FAILED in the ledger, and no build (no build log)
    execution = [
        e for e in entries if e["execution_id"] == gate["execution_id"] and e["kind"] == "deployment"
    ]
    assert {e["state"] for e in execution} == {"STARTED", "FAILED"}
    assert not (demo_run.home / "logs" / "builds" / f"{gate['execution_id']}.log").exists()
    # AND, as for any failure, prd was rolled back to the commit that ran before (G), which ran again
    [rollback] = [
        e
        for e in entries
        if e["kind"] == "rollback" and e.get("from_commit") == straight and e["state"] == "STARTED"
    ]
    assert main_of(demo_run.home, "prd") == rollback["commit"] != straight
    assert any(
        e["kind"] == "gate"
        and e["state"] == "ALLOWED"
        and e["commit"] == rollback["commit"]
        and e["via"] == "rollback"
        for e in entries
    )
    # AND an alert was mailed about it
    mails = json.loads(run_cli("local", "mail", "--home", str(demo_run.home), "--json").stdout)
    assert any(m["subject"] == f"path2prod prd: gate refused {straight[:12]}, not built" for m in mails)
    # AND the auditors' view lists H broken, refused by the gate, while an approved promotion is complete
    rows = json.loads(
        run_cli("audit", "provenance", "--env", "prd", "--home", str(demo_run.home), "--json").stdout
    )
    [refused] = [row for row in rows if row["commit"] == straight]
    assert (refused["complete"], refused["reason"]) == (
        False,
        f"refused by the gate: no approval in prd for {straight[:12]}",
    )
    assert any(row["complete"] and row["via"] == "promotion" for row in rows)

"""The provenance gate's rules (domain/gate.py): the CodePipeline job read and checked, and the decision
about a commit about to build, from the env's own ledger (domain/provenance.py's local_backing)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from path2prod.domain.deploy_windows import parse_windows
from path2prod.domain.errors import InvalidEvent
from path2prod.domain.gate import (
    GateMode,
    Via,
    decide,
    job_id_of,
    parse_job,
    resolve_mode,
)
from path2prod.domain.provenance import Backing, Deployment, local_backing
from path2prod.domain.vocabulary import BREAK_GLASS, EntryState
from tests.support.samples import load_event
from tests.unit.test_provenance import A, B, deployed, promoted, request_entry, rollback

NOW = "2026-11-05T12:00:00Z"


def job_event(**claims: Any) -> dict[str, Any]:
    event = load_event("gate-job")
    parameters = json.loads(
        event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"]
    )
    parameters.update(claims)
    event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] = json.dumps(
        parameters
    )
    return event


def test_the_sample_job_reads_as_its_claims() -> None:
    # GIVEN events/gate-job.json, a job as CodePipeline sends it to the gate
    event = load_event("gate-job")

    # WHEN it is read
    job = parse_job(event)

    # THEN its id, account and claims are the sample's
    assert job.job_id == event["CodePipeline.job"]["id"] == job_id_of(event)
    assert job.account == "333333333333"
    assert job.execution_id == "7c1f9d30-2a4e-4c1b-9f6e-2d5b8a4e0c11"
    assert job.commit == "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948"


@pytest.mark.parametrize(
    ("claims", "field"),
    [
        ({"commit": "dfd3156a"}, "commit"),
        ({"commit": "D" * 40}, "commit"),
        ({"execution_id": "not-a-uuid"}, "execution_id"),
        ({"execution_id": None}, "execution_id"),
    ],
)
def test_a_malformed_claim_is_refused_naming_it(claims: dict[str, Any], field: str) -> None:
    # GIVEN a job whose UserParameters claim something malformed
    event = job_event(**claims)

    # WHEN it is read THEN it is refused, naming the field, while its id stays readable
    with pytest.raises(InvalidEvent, match=field):
        parse_job(event)
    assert job_id_of(event) is not None


def test_a_64_digit_commit_is_a_commit() -> None:
    assert parse_job(job_event(commit="e" * 64)).commit == "e" * 64


@pytest.mark.parametrize(
    "event",
    [None, [], {}, {"CodePipeline.job": {"id": "x"}}, {"CodePipeline.job": {"id": "../etc"}}],
)
def test_a_job_without_a_well_formed_id_has_none(event: Any) -> None:
    # GIVEN something that is not a job THEN it has no id to report to, and reading it is refused
    assert job_id_of(event) is None
    with pytest.raises(InvalidEvent):
        parse_job(event)


def test_user_parameters_that_are_not_json_are_refused() -> None:
    event = load_event("gate-job")
    event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] = "{commit"
    with pytest.raises(InvalidEvent, match="not JSON"):
        parse_job(event)


@pytest.mark.parametrize(
    ("mode", "env", "resolved"),
    [
        (GateMode.AUTO, "prd", GateMode.ENFORCE),
        (GateMode.AUTO, "stg", GateMode.WARN),
        (GateMode.AUTO, "dev", GateMode.OFF),
        (GateMode.ENFORCE, "stg", GateMode.ENFORCE),
        (GateMode.WARN, "prd", GateMode.WARN),
        (GateMode.OFF, "prd", GateMode.OFF),
    ],
)
def test_auto_is_enforce_in_prd_and_warn_in_stg(mode: GateMode, env: str, resolved: GateMode) -> None:
    assert resolve_mode(mode, env) is resolved


def test_an_approved_and_pushed_promotion_is_allowed() -> None:
    # GIVEN prd's ledger: a request for A approved and pushed by the promoter
    entries = promoted("prd", A, "req-1", approved="2026-11-05T10:00:00Z", pushed="2026-11-05T10:01:00Z")

    # WHEN A is about to build in prd
    decision = decide("prd", A, NOW, entries, GateMode.ENFORCE)

    # THEN it is allowed, as that promotion
    assert (decision.state, decision.via, decision.lets_run) == (EntryState.ALLOWED, Via.PROMOTION, True)
    assert "req-1" in decision.reason


def test_a_commit_pushed_straight_to_prd_is_refused_in_enforce_and_warned_in_warn() -> None:
    # GIVEN prd's ledger knows A (promoted) but nothing of B
    entries = promoted("prd", A, "req-1", approved="2026-11-05T10:00:00Z", pushed="2026-11-05T10:01:00Z")

    # WHEN B, pushed by hand, is about to build
    enforced = decide("prd", B, NOW, entries, GateMode.ENFORCE)
    warned = decide("prd", B, NOW, entries, GateMode.WARN)

    # THEN enforce refuses it and warn lets it run, with the same one-line reason
    assert (enforced.state, enforced.lets_run) == (EntryState.REFUSED, False)
    assert (warned.state, warned.lets_run) == (EntryState.WARNED, True)
    assert enforced.reason == warned.reason == f"no approval in prd for {B[:12]}"


def test_an_approved_request_the_promoter_never_pushed_is_refused() -> None:
    # GIVEN an approval for B, but no push by the promoter (someone pushed B by hand)
    entries = [
        request_entry("prd", B, "req-2", "REQUESTED", "2026-11-05T10:00:00Z"),
        request_entry("prd", B, "req-2", "APPROVED", "2026-11-05T10:00:30Z", who="bob@example.com"),
    ]

    # THEN B is refused, the reason saying it was not pushed by the promoter
    decision = decide("prd", B, NOW, entries, GateMode.ENFORCE)
    assert decision.state == EntryState.REFUSED
    assert "not pushed by the promoter" in decision.reason


def test_a_rollback_to_a_commit_that_succeeded_here_is_allowed() -> None:
    # GIVEN A succeeded in prd, B failed, and a rollback to A started
    entries = [
        *deployed("prd", A, "exec-a", "2026-11-05T09:00:00Z"),
        *deployed("prd", B, "exec-b", "2026-11-05T10:00:00Z", "FAILED"),
        *rollback("prd", A, "2026-11-05T10:06:00Z"),
    ]

    # THEN A building again is allowed, as the rollback
    decision = decide("prd", A, NOW, entries, GateMode.ENFORCE)
    assert (decision.state, decision.via) == (EntryState.ALLOWED, Via.ROLLBACK)


def test_a_rollback_to_a_commit_that_never_succeeded_here_is_refused() -> None:
    # GIVEN a rollback to B, which never SUCCEEDED in prd
    entries = [
        *deployed("prd", B, "exec-b", "2026-11-05T10:00:00Z", "FAILED"),
        *rollback("prd", B, "2026-11-05T10:06:00Z"),
    ]

    decision = decide("prd", B, NOW, entries, GateMode.ENFORCE)
    assert decision.state == EntryState.REFUSED
    assert "never SUCCEEDED in prd" in decision.reason


def test_a_promotion_superseded_by_another_deployment_no_longer_backs_its_commit() -> None:
    # GIVEN A promoted and deployed, then B deployed after it (main named B), then A pushed back by hand
    entries = [
        *promoted("prd", A, "req-1", approved="2026-11-05T08:00:00Z", pushed="2026-11-05T08:01:00Z"),
        *deployed("prd", A, "exec-a", "2026-11-05T08:01:00Z"),
        *deployed("prd", B, "exec-b", "2026-11-05T10:00:00Z"),
    ]

    # THEN A about to build again is refused: pushed by hand
    decision = decide("prd", A, NOW, entries, GateMode.ENFORCE)
    assert decision.state == EntryState.REFUSED
    assert decision.reason.startswith("pushed by hand")


def test_local_backing_reads_no_other_env_and_dev_is_the_entry_point() -> None:
    # GIVEN stg's promotion of A (nothing of dev's ledger at hand)
    entries = promoted("stg", A, "req-1", approved="2026-11-05T10:00:00Z", pushed="2026-11-05T10:01:00Z")

    # THEN stg's own ledger backs it, and dev needs nothing
    assert local_backing(Deployment("stg", A, NOW), entries).via is Backing.PROMOTION
    assert local_backing(Deployment("dev", B, NOW), []).via is Backing.ENTRY_POINT
    # AND another env's entries back nothing in prd
    assert not local_backing(Deployment("prd", A, NOW), entries).backed


# A freeze from 10:00 to 11:00 UTC on 2026-11-05 (the pushes above happen at 10:01).
FREEZE = parse_windows("freeze=2026-11-05T10:00Z/PT1H")


def test_a_promotion_pushed_during_a_freeze_is_refused_and_one_pushed_before_it_is_allowed() -> None:
    # GIVEN prd frozen from 10:00 to 11:00; A was pushed at 10:01, B at 09:59
    during = promoted("prd", A, "req-1", approved="2026-11-05T10:00:00Z", pushed="2026-11-05T10:01:00Z")
    before = promoted("prd", B, "req-2", approved="2026-11-05T09:58:00Z", pushed="2026-11-05T09:59:00Z")

    # WHEN each is about to build (at NOW, whatever the window says then)
    refused = decide("prd", A, NOW, during, GateMode.ENFORCE, FREEZE)
    warned = decide("prd", A, NOW, during, GateMode.WARN, FREEZE)
    allowed = decide("prd", B, NOW, before, GateMode.ENFORCE, FREEZE)

    # THEN the push during the freeze is refused (warned in warn), naming the freeze; the other builds
    assert (refused.state, refused.via) == (EntryState.REFUSED, Via.PROMOTION)
    assert "req-1" in refused.reason and "deploy window was closed" in refused.reason
    assert "freeze=2026-11-05T10:00:00Z/PT1H" in refused.reason
    assert warned.state == EntryState.WARNED
    assert allowed.state == EntryState.ALLOWED


def test_a_break_glass_promotion_and_a_rollback_build_during_a_freeze() -> None:
    # GIVEN prd frozen; A pushed during the freeze by break glass, and a rollback to C during it
    pushed = promoted("prd", A, "req-1", approved="2026-11-05T10:00:00Z", pushed="2026-11-05T10:01:00Z")
    pushed[-1] = replace(pushed[-1], via=BREAK_GLASS)
    rolled_back = [
        *deployed("prd", B, "exec-b", "2026-11-05T09:00:00Z"),
        *rollback("prd", B, "2026-11-05T10:20:00Z"),
    ]

    # THEN both are allowed: break glass is on record, and a freeze never blocks a fix
    glass = decide("prd", A, NOW, pushed, GateMode.ENFORCE, FREEZE)
    fix = decide("prd", B, NOW, rolled_back, GateMode.ENFORCE, FREEZE)
    assert (glass.state, glass.via) == (EntryState.ALLOWED, Via.PROMOTION)
    assert "break glass" in glass.reason
    assert (fix.state, fix.via) == (EntryState.ALLOWED, Via.ROLLBACK)

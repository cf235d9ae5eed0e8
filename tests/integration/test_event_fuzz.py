"""Every event handler under hostile input (Hypothesis): real events, changed one field at a time.

The only outcomes allowed: the handler does what the event, read as AWS means it, asks (and what it
writes says exactly that), or it raises InvalidEvent having written nothing (the ledger table, the
repository's main). Any other exception, or anything written on the way to an error, fails the test.
`make fuzz` runs more cases and prints the figures docs/security.md quotes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from event_mutations import FUZZ_SETTINGS, Mutation, Tally, classify, mutations
from hypothesis import given
from hypothesis import strategies as st

# Fixtures of the handlers' own integration tests: the same worlds, fed hostile events here.
from test_approvals import DEV_ACCOUNT, Stg, _approve, feature, pending, stg  # noqa: F401
from test_rollback import ACCOUNT as PRD_ACCOUNT
from test_rollback import Prd, domain_event, good_then_broken, prd  # noqa: F401

from path2prod.adapters.ledger_table import LedgerTable
from path2prod.domain.approvals import request_id as request_id_of
from path2prod.domain.domain_events import (
    is_scheduled_event,
    parse_deployment_event,
    parse_promotion_approved,
)
from path2prod.domain.errors import CommitNotYetKnown, InvalidEvent
from path2prod.domain.ledger import DEPLOYMENT_FAILED, DEPLOYMENT_SUCCEEDED, LedgerEntry
from path2prod.sandbox.provisioning import create_pipeline

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

REGION = "eu-west-1"
RECORDER_ACCOUNT = "111111111111"
PIPELINE = "path2prod-app"
AWS_EVENTS = Path(__file__).resolve().parents[3] / "shared" / "aws-events"  # beside the checkout, if there


def _table_state(ledger: LedgerTable) -> tuple[int, Any]:
    """How many items the table holds (moto counts them live; no Scan) and where its chain ends."""
    count = ledger.client.describe_table(TableName=ledger.table_name)["Table"]["ItemCount"]
    return count, ledger.chain_head()


def _run(tally: Tally, invoke: Callable[[], Any], snapshot: Callable[[], Any], case: str, **kw: Any) -> str:
    outcome, before, after = classify(invoke, snapshot, invalid=InvalidEvent, **kw)
    if outcome == "handled":
        tally.count("acted" if before != after else "handled, nothing to write")
    elif outcome.startswith("wrong error type"):
        tally.count("wrong error type", f"{case} -> {outcome}")
    else:
        tally.count(outcome, case)
    return outcome if not outcome.startswith("wrong") else "wrong"


def _assert_clean(tally: Tally) -> None:
    tally.report()
    assert not tally.wrong, "\n".join(tally.wrong[:20])
    assert tally.outcomes["invalid"] > 0  # the cases did reach the validation


# --- recorder ------------------------------------------------------------------------------------------


@pytest.fixture
def recorder_world(
    invoke_recorder: Callable[[dict[str, Any]], dict[str, Any]],
    ledger: LedgerTable,
    load_event: Callable[[str], dict[str, Any]],
    aws_sample: Callable[[str], dict[str, Any]],
    readdressed: Callable[..., dict[str, Any]],
) -> Iterator[tuple[Callable[[dict[str, Any]], dict[str, Any]], LedgerTable, list[dict[str, Any]]]]:
    """dev's recorder with its pipeline in CodePipeline (moto), and the events to mutate: AWS's documented
    samples (re-addressed to this stack, when ../shared is beside the checkout) and the project's own;
    the Source action of each sample execution has taught its commit."""
    create_pipeline(
        boto3.client("iam", region_name=REGION),
        boto3.client("codepipeline", region_name=REGION),
        PIPELINE,
        "123456789012",  # moto's account for the tests' plain credentials
    )
    invoke_recorder(load_event("action-source-succeeded"))
    samples = sorted(AWS_EVENTS.glob("*.json")) if AWS_EVENTS.is_dir() else []
    bases = [
        readdressed(aws_sample(path.stem), account=RECORDER_ACCOUNT, region=REGION, pipeline=PIPELINE)
        for path in samples
        if "detail-type" in json.loads(path.read_text())
    ]
    # AWS's samples share one execution: its Source action (AWS's sample) teaches its commit first.
    sources = [b for b in bases if b["detail"].get("type", {}).get("category") == "Source"]
    for source in sources:
        invoke_recorder(source)
    names = [
        "pipeline-started",
        "pipeline-succeeded",
        "pipeline-failed",
        "action-source-succeeded",
        "action-build-failed",
    ]
    yield invoke_recorder, ledger, bases + [load_event(name) for name in names]


def _recorded_as_meant(event: dict[str, Any], written: list[dict[str, Any]]) -> bool:
    """What the recorder appended says exactly what the event says, on this stack."""
    detail = event["detail"]
    for item in written:
        if item["execution_id"] != detail["execution-id"]:
            return False
        if item["kind"] == "commit":
            continue
        time = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).astimezone(UTC)
        if (
            item["kind"] != "deployment"
            or item["state"] != detail["state"]
            or item["time"] != time.strftime("%Y-%m-%dT%H:%M:%SZ")
            or int(item["attempt"]) != int(detail.get("pipeline-execution-attempt", 1))
            or (item["account"], item["region"], item["pipeline"]) != (RECORDER_ACCOUNT, REGION, PIPELINE)
            or len(item["commit"]) != 40
        ):
            return False
    return True


@FUZZ_SETTINGS
@given(data=st.data())
def test_the_recorder_records_as_aws_meant_or_refuses_writing_nothing(recorder_world: Any, data: Any) -> None:
    # GIVEN dev's recorder and a real event of its pipeline with one thing changed
    invoke, ledger, bases = recorder_world
    base = data.draw(st.sampled_from(bases))
    mutation: Mutation = data.draw(mutations(base))
    event = mutation.apply(base)
    tally = TALLIES.setdefault("recorder", Tally("recorder"))

    # WHEN the recorder gets it
    head = ledger.chain_head()
    outcome = _run(
        tally,
        lambda: invoke(event),
        lambda: _table_state(ledger),
        mutation.describe(),
        retried=(CommitNotYetKnown,),
    )

    # THEN it refused with InvalidEvent (or waits for the commit) writing nothing, or wrote what it says
    if outcome == "handled":
        written = [item for item in ledger.chain_items() if int(item["seq"]) > (head.seq if head else 0)]
        if not _recorded_as_meant(event, written):
            tally.count("written wrongly", f"{mutation.describe()} -> {written}")
    assert not tally.wrong, tally.wrong[0]


# --- rollback ------------------------------------------------------------------------------------------


@FUZZ_SETTINGS
@given(data=st.data())
def test_rollback_acts_only_on_what_prd_s_ledger_confirms(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry], data: Any
) -> None:
    # GIVEN prd where G SUCCEEDED and then B FAILED, and one of their real events with one thing changed
    good, broken, failed = good_then_broken
    [succeeded] = [e for e in prd.ledger.commit_entries(good) if e.kind == "deployment"]
    base = data.draw(st.sampled_from([domain_event(failed), domain_event(succeeded)]))
    mutation: Mutation = data.draw(mutations(base))
    event = mutation.apply(base)
    tally = TALLIES.setdefault("rollback", Tally("rollback"))

    # WHEN the rollback function gets it
    outcome = _run(
        tally,
        lambda: prd.invoke(event),
        lambda: (_table_state(prd.ledger), prd.repo.main),
        mutation.describe(),
    )

    # THEN only a claim that is exactly B's failure or G's success, on prd's stack, did anything
    if outcome == "handled":
        claim = parse_deployment_event(event, detail_types=(DEPLOYMENT_FAILED, DEPLOYMENT_SUCCEEDED))
        facts = (claim.env, claim.account, claim.pipeline, claim.execution_id, claim.commit, claim.state)
        recorded = {
            ("prd", PRD_ACCOUNT, PIPELINE, failed.execution_id, broken, "FAILED"),
            ("prd", PRD_ACCOUNT, PIPELINE, succeeded.execution_id, good, "SUCCEEDED"),
        }
        if facts not in recorded:
            tally.count("written wrongly", f"{mutation.describe()} acted on {facts}")
    assert prd.repo.main in (good, broken)
    assert not tally.wrong, tally.wrong[0]


# --- approvals (the opener) ----------------------------------------------------------------------------


@FUZZ_SETTINGS
@given(data=st.data())
def test_approvals_open_only_for_a_confirmed_success_of_dev(stg: Stg, feature: str, data: Any) -> None:
    # GIVEN stg, and dev's forwarded success of a commit dev's repository holds, with one thing changed
    base = stg.succeeded_in_dev(feature, "execution-fuzz", "2024-05-14T09:18:40Z")
    mutation: Mutation = data.draw(mutations(base))
    event = mutation.apply(base)
    tally = TALLIES.setdefault("approvals", Tally("approvals"))

    # WHEN the approvals function gets it
    outcome = _run(tally, lambda: stg.open(event), lambda: _table_state(stg.ledger), mutation.describe())

    # THEN a request is open only for what the event says: dev's success, from dev's account
    if outcome == "handled":
        claim = parse_deployment_event(event, detail_types=(DEPLOYMENT_SUCCEEDED,), now=stg.clock.now)
        upstream = SimpleNamespace(pipeline=claim.pipeline, execution_id=claim.execution_id)
        request = stg.requests.get(request_id_of("stg", upstream, claim.commit))  # type: ignore[arg-type]
        if (
            request is None
            or (claim.env, claim.account) != ("dev", DEV_ACCOUNT)
            or (request.upstream.execution_id, request.commit) != (claim.execution_id, claim.commit)
            or claim.commit not in (feature, stg.base)
        ):
            tally.count("written wrongly", f"{mutation.describe()} opened {request}")
    assert not tally.wrong, tally.wrong[0]


# --- promoter ------------------------------------------------------------------------------------------


@pytest.fixture
def approved(stg: Stg, pending: Any) -> Any:
    """The pending request, approved by bob (quorum 1): the promoter owes it a push."""
    return _approve(stg, pending)


@FUZZ_SETTINGS
@given(data=st.data())
def test_the_promoter_pushes_only_the_request_the_ledger_approved(stg: Stg, approved: Any, data: Any) -> None:
    # GIVEN stg with bob's approval of the pending request, and its "Promotion Approved" (or the
    # schedule's tick) with one thing changed
    request = approved
    base = data.draw(st.sampled_from([stg.approved(request), _scheduled_tick()]))
    mutation: Mutation = data.draw(mutations(base))
    event = mutation.apply(base)
    tally = TALLIES.setdefault("promoter", Tally("promoter"))

    # WHEN the promoter gets it
    outcome = _run(
        tally,
        lambda: stg.promote(event),
        lambda: (_table_state(stg.ledger), stg.stg.main),
        mutation.describe(),
    )

    # THEN it pushed nothing but the approved request's commit, and only for an event naming it
    if outcome == "handled" and not is_scheduled_event(event):
        claim = parse_promotion_approved(event)
        if (claim.env, claim.request_id, claim.commit) != ("stg", request.id, request.commit):
            tally.count("written wrongly", f"{mutation.describe()} acted on {claim}")
    assert stg.stg.main in (stg.base, request.commit)
    assert not tally.wrong, tally.wrong[0]


def _scheduled_tick() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6e2a9d4b-1f7c-4a83-b5e0-9c3d8f2a1b47",
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "222222222222",
        "time": "2024-05-14T09:45:00Z",
        "region": REGION,
        "resources": ["arn:aws:scheduler:eu-west-1:222222222222:schedule/default/path2prod-stg-sweep"],
        "detail": "{}",
    }


TALLIES: dict[str, Tally] = {}


@pytest.fixture(scope="module", autouse=True)
def _figures() -> Iterator[None]:
    """After the module: each handler's tally goes to $FUZZ_REPORT (make fuzz), and each must show
    that cases reached its validation."""
    yield
    for tally in TALLIES.values():
        _assert_clean(tally)

"""Hostile "Promotion Rejected" and "Approval Requested Again" events against the approvals function: each
sample event with one thing changed (event_mutations.py), and what the function did with it.

Whatever the change, the function either refuses it with InvalidEvent having written and mailed nothing,
or acts exactly on what the ledger backs: it tells of the one rejected request, or asks again for that
request's commit. Anything else (another error type, a write before a refusal, an act on another
request) fails the test.
"""

from __future__ import annotations

from typing import Any

import pytest
from event_mutations import FUZZ_SETTINGS, Mutation, Tally, classify, mutations
from hypothesis import given
from hypothesis import strategies as st
from test_approvals import BOB, Stg, feature, pending, stg

from path2prod.approvals import events as own_events
from path2prod.domain.approvals import ApprovalRequest, Verdict
from path2prod.domain.approvals import request_id as request_id_of
from path2prod.domain.errors import InvalidEvent
from tests.support.samples import load_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
FUZZED = (stg, feature, pending)  # fixtures pytest finds here by name

TALLIES: dict[str, Tally] = {}


@pytest.fixture
def rejected(stg: Stg, pending: ApprovalRequest) -> ApprovalRequest:
    """The pending request, rejected by bob from the CLI."""
    return stg.page().answer(pending.id, BOB, Verdict.REJECT, via="cli", reason="not yet")


def _snapshot(stg: Stg) -> tuple[Any, ...]:
    return (stg.ledger.chain_head(), [r.id for r in stg.requests.recent("stg")])


def _run(stg: Stg, tally: Tally, event: dict[str, Any], case: str) -> str:
    outcome, before, after = classify(lambda: stg.open(event), lambda: _snapshot(stg), invalid=InvalidEvent)
    if outcome == "handled":
        tally.count("acted" if before != after else "handled, nothing to write")
    elif outcome.startswith("wrong error type"):
        tally.count("wrong error type", f"{case} -> {outcome}")
        return "wrong"
    else:
        tally.count(outcome, case)
    return outcome


@FUZZ_SETTINGS
@given(data=st.data())
def test_a_rejection_is_told_only_for_the_request_the_ledger_rejected(
    stg: Stg, rejected: ApprovalRequest, data: Any
) -> None:
    # GIVEN the rejection event of bob's rejection, with one thing changed
    base = load_event("promotion-rejected")
    base["detail"].update(request_id=rejected.id, commit=rejected.commit)
    mutation: Mutation = data.draw(mutations(base))
    event = mutation.apply(base)
    tally = TALLIES.setdefault("rejections", Tally("rejections"))
    stg.read_mail()

    # WHEN the approvals function gets it
    outcome = _run(stg, tally, event, mutation.describe())

    # THEN it acted only on that request, and mailed nobody else than its author and carol
    mailed = {who for who, mails in stg.read_mail().items() if mails}
    if outcome == "handled":
        claim = own_events.parse_rejection(event)
        if (claim.env, claim.request_id, claim.commit) != ("stg", rejected.id, rejected.commit):
            tally.count("written wrongly", f"{mutation.describe()} acted on {claim}")
    elif mailed:
        tally.count("written wrongly", f"{mutation.describe()} refused but mailed {mailed}")
    assert BOB not in mailed
    assert not tally.wrong, tally.wrong[0]


@FUZZ_SETTINGS
@given(data=st.data())
def test_asking_again_opens_only_for_the_request_the_ledger_rejected(
    stg: Stg, rejected: ApprovalRequest, data: Any
) -> None:
    # GIVEN an "ask again" of the rejected request, with one thing changed
    base = load_event("approval-requested-again")
    base["detail"].update(commit=rejected.commit, previous_request_id=rejected.id)
    mutation: Mutation = data.draw(mutations(base))
    event = mutation.apply(base)
    tally = TALLIES.setdefault("asked again", Tally("asked again"))

    # WHEN the approvals function gets it
    outcome = _run(stg, tally, event, mutation.describe())

    # THEN any request it opened is the one asked again after the rejected request, for its commit
    again = request_id_of("stg", rejected.upstream, rejected.commit, again_after=rejected.id)
    opened = set(_snapshot(stg)[1]) - {rejected.id}
    if not opened <= {again}:
        tally.count("written wrongly", f"{mutation.describe()} opened {opened}")
    if outcome == "handled":
        claim = own_events.parse_ask_again(event)
        if (claim.env, claim.commit, claim.previous_request_id) != ("stg", rejected.commit, rejected.id):
            tally.count("written wrongly", f"{mutation.describe()} acted on {claim}")
    assert not tally.wrong, tally.wrong[0]


@pytest.fixture(scope="module", autouse=True)
def _figures() -> Any:
    """After the module: each tally must show that cases reached the validation, and nothing wrong."""
    yield
    for tally in TALLIES.values():
        tally.report()
        assert not tally.wrong, "\n".join(tally.wrong[:20])
        assert tally.outcomes["invalid"] > 0

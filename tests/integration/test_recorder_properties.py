"""Order and duplicates do not matter: any delivery of an execution's events builds the same ledger.

EventBridge delivers at least once and in no particular order; Lambda retries an event whose commit is
not known yet (CommitNotYetKnown) after the others. Each example replays one delivery through the
handler into its own fresh table, and compares the ledger with the one the canonical order builds.
"""

from __future__ import annotations

import copy
from collections import deque
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from path2prod.domain.chain_verify import verify
from path2prod.domain.errors import CommitNotYetKnown
from path2prod.domain.ledger import LedgerEntry, outcome

ENV = "dev"
COMMIT = "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948"
PIPELINE = "path2prod-app"
EXECUTION = "e2f2be32-9236-44a0-b8b9-3c08d80a0f74"
MAX_DELIVERIES = 100

# Deliveries that raise CommitNotYetKnown add no metric; Powertools warns about that, as expected here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def _canonical(ending: str) -> list[str]:
    return ["pipeline-started", "action-source-succeeded", ending]


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[str, list[str], bool]:
    """An execution's ending, its events in some order with some repeated, and what CodePipeline knows."""
    ending = draw(st.sampled_from(["pipeline-succeeded", "pipeline-failed"]))
    repeats = [name for name in _canonical(ending) for _ in range(draw(st.integers(1, 3)))]
    order = draw(st.permutations(repeats))
    codepipeline_knows_commit = draw(st.booleans())
    return ending, list(order), codepipeline_knows_commit


def _replay(harness: Any, names: list[str], knows: bool, load_event: Any) -> list[LedgerEntry]:
    """Deliver `names` in that order into a fresh table, retrying CommitNotYetKnown last; the ledger."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        table = harness.use_fresh_ledger(monkeypatch)
        codepipeline = harness.stub_codepipeline(monkeypatch)
        answer: dict[str, Any] = {
            "pipelineExecution": {"pipelineExecutionId": EXECUTION, "pipelineName": PIPELINE}
        }
        if knows:
            answer["pipelineExecution"]["artifactRevisions"] = [
                {"name": "SourceArtifact", "revisionId": COMMIT}
            ]

        queue = deque(load_event(name) for name in names)
        answers = 0
        for _ in range(MAX_DELIVERIES):
            if not queue:
                break
            if answers == len(codepipeline.calls):  # one answer ready for the next GetPipelineExecution
                if knows:
                    codepipeline.knows(answer, pipelineName=PIPELINE, pipelineExecutionId=EXECUTION)
                else:
                    codepipeline.knows_nothing()
                answers += 1
            event = queue.popleft()
            try:
                harness.invoke(copy.deepcopy(event))
            except CommitNotYetKnown:
                queue.append(event)  # Lambda's retry comes after the events already on their way
        assert not queue, f"still undelivered after {MAX_DELIVERIES} deliveries: {list(queue)}"
        chain = verify(table.chain_items(), table.chain_head())
        assert chain.intact, chain.broken
        return list(table.history(ENV))


# The fixtures only start moto and load the handler, once for all examples (hence the health check
# suppressed); every example builds its own tables, so nothing leaks between examples.
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(delivery=deliveries())
def test_any_order_with_duplicates_builds_the_canonical_ledger(
    recorder_harness, load_event, delivery
) -> None:
    ending, order, knows = delivery
    terminal = load_event(ending)["detail"]["state"]

    # GIVEN the ledger the canonical order builds
    expected = _replay(recorder_harness, _canonical(ending), knows, load_event)

    # WHEN the same events arrive shuffled and repeated
    actual = _replay(recorder_harness, order, knows, load_event)

    # THEN the same entries, in the same order, ending in the execution's terminal state (their place in
    # the hash chain follows the arrival order, and the chain is intact either way)
    assert [entry.content for entry in actual] == [entry.content for entry in expected]
    assert [entry.state for entry in actual] == [terminal, "STARTED"]
    assert outcome(actual).state == terminal
    assert {entry.commit for entry in actual} == {COMMIT}

"""The recorder Lambda handler, in-process against moto: events in, ledger entries and domain events out."""

from __future__ import annotations

import copy
import json

import boto3
import pytest
from moto.events.models import EventPattern

from path2prod.domain.errors import CommitNotYetKnown, InvalidEvent
from path2prod.domain.event_fields import ThisStack
from path2prod.domain.ledger import DEPLOYMENT_FAILED, DEPLOYMENT_SUCCEEDED
from path2prod.domain.pipeline_events import parse_pipeline_event
from path2prod.sandbox.template import rule_pattern

REGION = "eu-west-1"
ENV = "dev"
ACCOUNT = "111111111111"
PIPELINE = "path2prod-app"
STACK = ThisStack(env=ENV, account=ACCOUNT, region=REGION, pipeline=PIPELINE)
EXECUTION = "e2f2be32-9236-44a0-b8b9-3c08d80a0f74"
COMMIT = "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948"

# A handler that raises has added no metric; Powertools warns about that, which is expected here.
raises_before_any_metric = pytest.mark.filterwarnings("ignore:No application metrics to publish")

# What each file of events/ does once the execution's Source action has reported its commit.
EXPECTED = {
    "action-build-failed": ("ignored", None, []),
    "action-source-succeeded": ("commit-learnt", None, []),
    "pipeline-failed": ("recorded", "FAILED", [DEPLOYMENT_FAILED]),
    "pipeline-started": ("recorded", "STARTED", []),
    "pipeline-stopped": ("recorded", "STOPPED", []),
    "pipeline-succeeded": ("recorded", "SUCCEEDED", [DEPLOYMENT_SUCCEEDED]),
    "pipeline-superseded": ("recorded", "SUPERSEDED", []),
}


def rule_admits(event: dict) -> bool:
    """Whether the template's rule for the recorder delivers `event` to it, matched as moto's buses do
    (moto's TestEventPattern API is not implemented)."""
    pattern = rule_pattern("RecorderFunction", "PipelineStateChange", {"PipelineName": PIPELINE})
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(event))


def test_the_rule_delivers_pipeline_changes_and_the_source_actions_success_only(load_event) -> None:
    # GIVEN this pipeline's events, and the same events of another pipeline
    source_succeeded = load_event("action-source-succeeded")
    source_started = copy.deepcopy(source_succeeded)
    source_started["detail"]["state"] = "STARTED"
    del source_started["detail"]["execution-result"]
    deploy = copy.deepcopy(load_event("action-build-failed"))
    deploy["detail"]["stage"] = deploy["detail"]["action"] = "Deploy"
    deploy["detail"]["type"].update(category="Deploy", provider="CodeDeploy")
    elsewhere = copy.deepcopy(load_event("pipeline-started"))
    elsewhere["detail"]["pipeline"] = "another-pipeline"
    source_elsewhere = copy.deepcopy(source_succeeded)
    source_elsewhere["detail"]["pipeline"] = "another-pipeline"

    # WHEN / THEN the Source action's success (the commit) and every pipeline state change reach the
    # recorder
    assert rule_admits(source_succeeded)
    for name in ("pipeline-started", "pipeline-succeeded", "pipeline-failed", "pipeline-stopped"):
        assert rule_admits(load_event(name)), name
    # THEN a Build or Deploy action's events, the Source action's start, and other pipelines' do not
    assert not rule_admits(load_event("action-build-failed"))
    assert not rule_admits(deploy)
    assert not rule_admits(source_started)
    assert not rule_admits(elsewhere)
    assert not rule_admits(source_elsewhere)


def test_every_project_event_goes_through_the_handler(
    invoke_recorder, ledger, load_event, project_event_name
) -> None:
    # GIVEN the Source action has told the ledger the execution's commit
    invoke_recorder(load_event("action-source-succeeded"))
    result, state, published = EXPECTED[project_event_name]

    # WHEN
    handled = invoke_recorder(load_event(project_event_name))

    # THEN
    assert handled["result"] == result
    assert handled["published"] == published
    # AND the template's rule delivers exactly the events the recorder does something with
    assert rule_admits(load_event(project_event_name)) == (result != "ignored")
    entries = ledger.execution_entries(PIPELINE, EXECUTION)
    assert [entry.state for entry in entries] == ([state] if state else [])
    assert all(entry.commit == COMMIT and entry.env == ENV for entry in entries)
    assert ledger.known_commit(PIPELINE, EXECUTION) == COMMIT


def _source_action_of(execution: dict, source_sample: dict) -> dict:
    """AWS's Source action sample, re-addressed to the execution of another sample."""
    source = copy.deepcopy(source_sample)
    source["detail"]["pipeline"] = execution["detail"]["pipeline"]
    source["detail"]["execution-id"] = execution["detail"]["execution-id"]
    return source


def test_every_aws_sample_event_is_accepted(
    invoke_recorder, ledger, aws_sample, aws_sample_name, readdressed
) -> None:
    # GIVEN an event exactly as AWS documents it; when it does not name its commit, the execution's
    # Source action (AWS's sample) has reported first, as it does before the pipeline can end
    def here(sample: dict) -> dict:  # AWS's sample as it reaches this stack (the shape unchanged)
        return readdressed(sample, account=ACCOUNT, region=REGION, pipeline=PIPELINE)

    event = here(aws_sample(aws_sample_name))
    change = parse_pipeline_event(event, STACK)
    source = _source_action_of(event, here(aws_sample("action-source-codecommit-succeeded")))
    if change.is_pipeline_execution and change.commit is None:
        invoke_recorder(source)

    # WHEN
    handled = invoke_recorder(event)

    # THEN the template's rule delivers exactly the events the recorder does something with
    assert rule_admits(event) == (handled["result"] != "ignored")
    # THEN pipeline changes become entries, the Source action teaches the commit, the rest is ignored
    if change.is_pipeline_execution:
        assert handled["result"] == "recorded"
        [entry] = ledger.execution_entries(change.pipeline, change.execution_id)
        assert entry.state == event["detail"]["state"]
        assert entry.commit == (
            change.commit or source["detail"]["execution-result"]["external-execution-id"]
        )
    elif change.is_source_action and change.state == "SUCCEEDED":
        assert handled["result"] == "commit-learnt"
        assert ledger.known_commit(change.pipeline, change.execution_id) == change.commit
    else:
        assert handled["result"] == "ignored"
        assert ledger.execution_entries(change.pipeline, change.execution_id) == []


def test_same_event_three_times_makes_one_entry(invoke_recorder, ledger, load_event) -> None:
    # GIVEN
    invoke_recorder(load_event("action-source-succeeded"))
    succeeded = load_event("pipeline-succeeded")

    # WHEN EventBridge delivers the SUCCEEDED three times
    results = [invoke_recorder(copy.deepcopy(succeeded))["result"] for _ in range(3)]

    # THEN one entry; the repeats are duplicates
    assert results == ["recorded", "duplicate", "duplicate"]
    assert [entry.state for entry in ledger.execution_entries(PIPELINE, EXECUTION)] == ["SUCCEEDED"]
    assert [entry.state for entry in ledger.history(ENV)] == ["SUCCEEDED"]


def test_commit_learnt_from_codepipeline_once(
    invoke_recorder, ledger, load_event, codepipeline, aws_sample
) -> None:
    # GIVEN no Source action event yet: only GetPipelineExecution knows the commit (AWS's sample answer)
    answer = aws_sample("get-pipeline-execution")
    commit = answer["pipelineExecution"]["artifactRevisions"][0]["revisionId"]
    codepipeline.knows(answer, pipelineName=PIPELINE, pipelineExecutionId=EXECUTION)

    # WHEN two events of the execution arrive
    started = invoke_recorder(load_event("pipeline-started"))
    succeeded = invoke_recorder(load_event("pipeline-succeeded"))

    # THEN CodePipeline was asked once; the second event found the commit in the ledger
    assert codepipeline.calls == [{"pipelineName": PIPELINE, "pipelineExecutionId": EXECUTION}]
    codepipeline.stubber.assert_no_pending_responses()
    assert (started["result"], succeeded["result"]) == ("recorded", "recorded")
    assert ledger.known_commit(PIPELINE, EXECUTION) == commit
    assert [entry.commit for entry in ledger.execution_entries(PIPELINE, EXECUTION)] == [commit, commit]


@raises_before_any_metric
def test_commit_unknown_everywhere_raises_for_a_retry(
    invoke_recorder, ledger, load_event, codepipeline
) -> None:
    # GIVEN CodePipeline does not know the execution (yet) and no Source action has reported
    codepipeline.knows_nothing()

    # WHEN / THEN the handler raises, so Lambda retries the event later
    with pytest.raises(CommitNotYetKnown):
        invoke_recorder(load_event("pipeline-succeeded"))

    # THEN nothing was written
    assert ledger.execution_entries(PIPELINE, EXECUTION) == []
    assert ledger.known_commit(PIPELINE, EXECUTION) is None
    assert len(codepipeline.calls) == 1


def _missing_execution_id(event: dict) -> dict:
    del event["detail"]["execution-id"]
    return event


def _bad_time(event: dict) -> dict:
    event["time"] = "24/05/14 09:12"
    return event


def _detail_not_an_object(event: dict) -> dict:
    event["detail"] = json.dumps(event["detail"])
    return event


@raises_before_any_metric
@pytest.mark.parametrize(
    ("name", "breaks"),
    [
        ("pipeline-succeeded", _missing_execution_id),
        ("pipeline-succeeded", _bad_time),
        ("pipeline-succeeded", _detail_not_an_object),
        ("action-source-succeeded", _bad_time),
        ("action-source-succeeded", _detail_not_an_object),
    ],
)
def test_malformed_event_is_refused_and_writes_nothing(
    invoke_recorder, ledger, load_event, name, breaks
) -> None:
    # GIVEN a malformed event (the commit is known for pipeline events, so only the event is at fault)
    if name != "action-source-succeeded":
        ledger.remember_commit(PIPELINE, EXECUTION, COMMIT)
    event = breaks(load_event(name))

    # WHEN / THEN
    with pytest.raises(InvalidEvent):
        invoke_recorder(event)

    # THEN
    assert ledger.execution_entries(PIPELINE, EXECUTION) == []
    assert list(ledger.history(ENV)) == []
    if name == "action-source-succeeded":
        assert ledger.known_commit(PIPELINE, EXECUTION) is None


@pytest.mark.parametrize(
    ("ending", "detail_type"),
    [("pipeline-succeeded", DEPLOYMENT_SUCCEEDED), ("pipeline-failed", DEPLOYMENT_FAILED)],
)
def test_terminal_event_publishes_a_domain_event(invoke_recorder, load_event, ending, detail_type) -> None:
    # GIVEN a rule on the default bus sending path2prod's domain events to a queue
    sqs = boto3.client("sqs", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="domain-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="path2prod-domain-events", EventPattern=json.dumps({"source": ["path2prod"]}))
    events.put_targets(Rule="path2prod-domain-events", Targets=[{"Id": "queue", "Arn": queue_arn}])
    invoke_recorder(load_event("action-source-succeeded"))
    invoke_recorder(load_event("pipeline-started"))

    # WHEN
    invoke_recorder(load_event(ending))

    # THEN exactly one domain event, naming the commit
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    assert len(messages) == 1
    delivered = json.loads(messages[0]["Body"])
    assert delivered["source"] == "path2prod"
    assert delivered["detail-type"] == detail_type
    assert delivered["detail"]["commit"] == COMMIT
    assert delivered["detail"]["env"] == ENV
    assert delivered["detail"]["execution_id"] == EXECUTION


def test_history_page_reads_only_what_it_returns(invoke_recorder, ledger, load_event) -> None:
    # GIVEN three executions, each STARTED and SUCCEEDED (and their Source actions, which make no entry)
    for number in range(3):
        for name in ("action-source-succeeded", "pipeline-started", "pipeline-succeeded"):
            event = load_event(name)
            event["detail"]["execution-id"] = f"{EXECUTION[:-1]}{number}"
            event["time"] = event["time"].replace("2024-05-14", f"2024-05-1{4 + number}")
            invoke_recorder(event)

    # WHEN
    first = ledger.history_page(ENV, limit=4)
    second = ledger.history_page(ENV, limit=4, cursor=first.next_cursor)

    # THEN each page is one Query that examined exactly the items it returned, newest first
    assert first.scanned_count == len(first.entries) == 4
    assert second.scanned_count == len(second.entries) == 2
    times = [entry.time for entry in first.entries + second.entries]
    assert times == sorted(times, reverse=True)
    newest = first.entries[0]
    assert (newest.execution_id, newest.state) == (f"{EXECUTION[:-1]}2", "SUCCEEDED")

"""Parsing CodePipeline EventBridge events: every documented shape in, a named field out when wrong."""

from __future__ import annotations

import copy

import pytest

from path2prod.domain.errors import InvalidEvent
from path2prod.domain.event_fields import ThisStack
from path2prod.domain.pipeline_events import (
    ACTION_EXECUTION,
    PIPELINE_EXECUTION,
    STAGE_EXECUTION,
    parse_pipeline_event,
)

PIPELINE = "path2prod-app"
EXECUTION = "e2f2be32-9236-44a0-b8b9-3c08d80a0f74"
COMMIT = "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948"
STACK = ThisStack(env="dev", account="111111111111", region="eu-west-1", pipeline=PIPELINE)
_ATTEMPT = "^detail.pipeline-execution-attempt: must be a"


def test_every_project_event_parses_into_the_one_execution(load_event, project_event_name) -> None:
    # GIVEN one of the project's sample events
    event = load_event(project_event_name)

    # WHEN
    change = parse_pipeline_event(event, STACK)

    # THEN it belongs to the story's execution, attempt 1, in the event's state
    assert (change.pipeline, change.execution_id, change.attempt) == (PIPELINE, EXECUTION, 1)
    assert change.state == event["detail"]["state"]
    assert (change.account, change.region) == ("111111111111", "eu-west-1")
    assert change.time == event["time"]
    assert change.start_time == "2024-05-14T09:12:02.817Z"


def test_every_aws_sample_event_parses(aws_sample, aws_sample_name) -> None:
    # GIVEN an EventBridge event exactly as AWS documents it (pipeline, stage or action)
    event = aws_sample(aws_sample_name)
    stack = ThisStack("dev", event["account"], event["region"], event["detail"]["pipeline"])

    # WHEN
    change = parse_pipeline_event(event, stack)

    # THEN its facts are read whatever the page's vintage (numbers or strings, optional fields)
    assert change.detail_type == event["detail-type"]
    assert change.execution_id == event["detail"]["execution-id"]
    assert change.state == event["detail"]["state"]
    assert change.attempt >= 1
    assert change.time.endswith("Z")
    if change.detail_type != PIPELINE_EXECUTION:
        assert change.stage == event["detail"]["stage"]


def test_source_action_names_its_commit_and_message(load_event) -> None:
    # GIVEN the CodeCommit Source action's SUCCEEDED event
    event = load_event("action-source-succeeded")

    # WHEN
    change = parse_pipeline_event(event, STACK)

    # THEN the commit is the action's external execution id, the summary its commit message
    assert change.is_source_action
    assert not change.is_pipeline_execution
    assert change.commit == COMMIT
    assert change.commit_summary == "Add health check endpoint"
    assert (change.stage, change.action, change.action_category) == ("Source", "Source", "Source")


def test_a_source_action_whose_commit_message_holds_control_characters_is_read_not_refused(
    load_event,
) -> None:
    # GIVEN the Source action's SUCCEEDED event for a commit whose message holds ESC and BEL (git takes
    # anything a developer types; CodePipeline passes it on as the action's summary)
    event = load_event("action-source-succeeded")
    event["detail"]["execution-result"]["external-execution-summary"] = "B: \x1b[31mred\x07 on top"

    # WHEN
    change = parse_pipeline_event(event, STACK)

    # THEN the commit is learnt; the message is kept as typed (what shows it strips control characters)
    assert change.commit == COMMIT
    assert change.commit_summary == "B: \x1b[31mred\x07 on top"


def test_build_action_is_no_source_and_names_no_commit(load_event) -> None:
    # GIVEN a failed CodeBuild action, whose external execution id is a build id, not a commit
    event = load_event("action-build-failed")

    # WHEN
    change = parse_pipeline_event(event, STACK)

    # THEN
    assert change.detail_type == ACTION_EXECUTION
    assert change.action_category == "Build"
    assert not change.is_source_action
    assert change.commit is None


def test_pipeline_event_without_trigger_commit_names_no_commit(load_event) -> None:
    # GIVEN a pipeline started by an EventBridge rule: its trigger says nothing about the commit
    event = load_event("pipeline-started")

    # WHEN
    change = parse_pipeline_event(event, STACK)

    # THEN the recorder has to learn the commit elsewhere
    assert change.is_pipeline_execution
    assert change.commit is None


def test_git_trigger_names_the_commit(aws_sample) -> None:
    # GIVEN AWS's V2 pipeline event started by a git tag: execution-trigger carries the commit
    event = aws_sample("pipeline-succeeded-git-tags")

    # WHEN
    change = parse_pipeline_event(event, _stack_of(event))

    # THEN
    assert change.commit == event["detail"]["execution-trigger"]["commit-id"]
    assert change.commit_summary == event["detail"]["execution-trigger"]["commit-message"]


def test_stage_event_parses_with_its_stage(aws_sample) -> None:
    # GIVEN a stage resumed after a retry: attempt 2
    event = aws_sample("stage-resumed-after-retry")

    # WHEN
    change = parse_pipeline_event(event, _stack_of(event))

    # THEN
    assert change.detail_type == STAGE_EXECUTION
    assert (change.stage, change.state, change.attempt) == ("Build", "RESUMED", 2)


def test_legacy_event_without_attempt_or_start_time_defaults_to_attempt_one(aws_sample) -> None:
    # GIVEN the 2022 page's shape: integer version, no attempt, no start-time
    event = aws_sample("legacy-2022-pipeline-failed")

    # WHEN
    change = parse_pipeline_event(event, _stack_of(event))

    # THEN
    assert change.attempt == 1
    assert change.start_time is None


def test_times_are_normalised_to_utc_z(load_event) -> None:
    # GIVEN a pipeline event stamped with an offset and a start time without milliseconds
    event = load_event("pipeline-succeeded")
    event["time"] = "2024-05-14T11:18:40+02:00"
    event["detail"]["start-time"] = "2024-05-14T09:12:02Z"

    # WHEN
    change = parse_pipeline_event(event, STACK)

    # THEN the time keeps second precision, the start time milliseconds, both in UTC with Z
    assert change.time == "2024-05-14T09:18:40Z"
    assert change.start_time == "2024-05-14T09:12:02.000Z"


def _without(event: dict, *path: str) -> dict:
    broken = copy.deepcopy(event)
    target = broken
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return broken


def _with(event: dict, value: object, *path: str) -> dict:
    broken = copy.deepcopy(event)
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return broken


def _stack_of(event: dict) -> ThisStack:
    """The stack an AWS sample is about (its own account, region and pipeline)."""
    return ThisStack("dev", event["account"], event["region"], event["detail"]["pipeline"])


# The message naming the field is the contract here (it is what an operator reads next to the DLQ'd
# event), so the tests match it; pytest.raises checks the error's type first.
@pytest.mark.parametrize(
    ("name", "breaks", "names_field"),
    [
        ("pipeline-succeeded", lambda e: _without(e, "detail", "execution-id"), "^detail.execution-id: "),
        ("pipeline-succeeded", lambda e: _with(e, "", "detail", "execution-id"), "^detail.execution-id: "),
        ("pipeline-succeeded", lambda e: _with(e, 42, "detail", "execution-id"), "^detail.execution-id: "),
        (
            "pipeline-succeeded",
            lambda e: _with(e, "made-up", "detail", "execution-id"),
            "^detail.execution-id: ",
        ),
        ("pipeline-succeeded", lambda e: _without(e, "detail", "pipeline"), "^detail.pipeline: "),
        ("pipeline-succeeded", lambda e: _with(e, "other-app", "detail", "pipeline"), "^detail.pipeline: "),
        ("pipeline-succeeded", lambda e: _with(e, "222222222222", "account"), "^account: "),
        ("pipeline-succeeded", lambda e: _without(e, "account"), "^account: "),
        ("pipeline-succeeded", lambda e: _with(e, "us-east-1", "region"), "^region: "),
        ("pipeline-succeeded", lambda e: _without(e, "detail", "state"), "^detail.state: "),
        ("pipeline-succeeded", lambda e: _with(e, "HACKED", "detail", "state"), "^detail.state: "),
        ("pipeline-succeeded", lambda e: _with(e, "succeeded", "detail", "state"), "^detail.state: "),
        ("pipeline-succeeded", lambda e: _with(e, "ABANDONED", "detail", "state"), "^detail.state: "),
        ("pipeline-succeeded", lambda e: _without(e, "time"), "^time: "),
        ("pipeline-succeeded", lambda e: _with(e, "yesterday", "time"), "^time: is not an ISO-8601 time"),
        ("pipeline-succeeded", lambda e: _with(e, "2024-05-14T09:18:40", "time"), "^time: is not an ISO"),
        ("pipeline-succeeded", lambda e: _with(e, "2024-05-14", "time"), "^time: is not an ISO"),
        ("pipeline-succeeded", lambda e: _with(e, "9999-01-01T00:00:00Z", "time"), "^time: is in the future"),
        ("pipeline-succeeded", lambda e: _with(e, "0001-01-01T00:00:00+01:00", "time"), "^time: "),
        ("pipeline-succeeded", lambda e: _with(e, "2001-01-01T00:00:00Z", "time"), "^time: is before"),
        ("pipeline-succeeded", lambda e: _with(e, "soon", "detail", "start-time"), "^detail.start-time: "),
        ("pipeline-succeeded", lambda e: _with(e, "not an object", "detail"), "^detail: "),
        ("pipeline-succeeded", lambda e: _with(e, ["a", "list"], "detail"), "^detail: "),
        ("pipeline-succeeded", lambda e: _without(e, "detail"), "^detail: "),
        ("pipeline-succeeded", lambda e: _with(e, "aws.codebuild", "source"), "^source: "),
        ("pipeline-succeeded", lambda e: _with(e, "Deployment Succeeded", "detail-type"), "^detail-type: "),
        ("pipeline-succeeded", lambda e: _with(e, 0, "detail", "pipeline-execution-attempt"), _ATTEMPT),
        ("pipeline-succeeded", lambda e: _with(e, -1.0, "detail", "pipeline-execution-attempt"), _ATTEMPT),
        ("pipeline-succeeded", lambda e: _with(e, 1.5, "detail", "pipeline-execution-attempt"), _ATTEMPT),
        ("pipeline-succeeded", lambda e: _with(e, "1", "detail", "pipeline-execution-attempt"), _ATTEMPT),
        ("pipeline-succeeded", lambda e: _with(e, True, "detail", "pipeline-execution-attempt"), _ATTEMPT),
        ("pipeline-succeeded", lambda e: _with(e, 1e308, "detail", "pipeline-execution-attempt"), _ATTEMPT),
        (
            "pipeline-succeeded",
            lambda e: _with(e, float("nan"), "detail", "pipeline-execution-attempt"),
            _ATTEMPT,
        ),
        ("action-source-succeeded", lambda e: _without(e, "detail", "stage"), "^detail.stage: "),
        ("action-source-succeeded", lambda e: _without(e, "detail", "action"), "^detail.action: "),
        ("action-source-succeeded", lambda e: _without(e, "detail", "type"), "^detail.type: "),
        (
            "action-source-succeeded",
            lambda e: _without(e, "detail", "type", "category"),
            "^detail.type.category",
        ),
        (
            "action-source-succeeded",
            lambda e: _without(e, "detail", "execution-result"),
            "^detail.execution-result",
        ),
        (
            "action-source-succeeded",
            lambda e: _without(e, "detail", "execution-result", "external-execution-id"),
            "^detail.execution-result.external-execution-id: ",
        ),
        (
            "action-source-succeeded",
            lambda e: _with(e, "<script>x</script>", "detail", "execution-result", "external-execution-id"),
            "^detail.execution-result.external-execution-id: is not well-formed",
        ),
        (
            "action-source-succeeded",
            lambda e: _with(
                e,
                "DFD3156A8FF6BB46709B2BF6CF4A210833CB1948",
                "detail",
                "execution-result",
                "external-execution-id",
            ),
            "^detail.execution-result.external-execution-id: ",
        ),
        (
            "pipeline-succeeded",
            lambda e: _with(e, {"commit-id": "a\x00b"}, "detail", "execution-trigger"),
            "^detail.execution-trigger.commit-id: ",
        ),
    ],
)
def test_malformed_event_names_the_field(load_event, name, breaks, names_field) -> None:
    # GIVEN a sample event with one field missing or wrong
    event = breaks(load_event(name))

    # WHEN / THEN
    with pytest.raises(InvalidEvent, match=names_field):
        parse_pipeline_event(event, STACK)


@pytest.mark.parametrize("event", [None, "a string", ["a", "list"], 42])
def test_non_object_event_is_refused(event) -> None:
    # WHEN / THEN
    with pytest.raises(InvalidEvent, match="JSON object"):
        parse_pipeline_event(event, STACK)

"""The sandbox's CodePipeline: executions started through the API are queued for the local pipeline.

moto (in-process, `mock_aws`) with the sandbox's CodePipeline additions; the local pipeline's own
starts carry its request-token prefix and must not come back to it as someone else's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.codepipeline import models as codepipeline_models
from moto.codepipeline.responses import CodePipelineResponse

from path2prod.adapters.pipelines import PipelineExecutions
from path2prod.sandbox.emulator import (
    OWN_START_TOKEN_PREFIX,
    _patch_codepipeline,
    has_requested_executions,
    take_requested_executions,
)
from path2prod.sandbox.provisioning import create_pipeline

REGION = "eu-west-1"
PIPELINE = "path2prod-app"
GOOD = "a" * 40


@pytest.fixture
def codepipeline(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    """moto with the sandbox's patches (undone afterwards), prd's pipeline created; (account, client)."""
    for name in ("start_pipeline_execution",):
        monkeypatch.setattr(CodePipelineResponse, name, getattr(CodePipelineResponse, name))
    for name in ("to_dict", "__init__"):
        monkeypatch.setattr(
            codepipeline_models.PipelineExecution, name, getattr(codepipeline_models.PipelineExecution, name)
        )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        _patch_codepipeline()
        account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
        client = boto3.client("codepipeline", region_name=REGION)
        create_pipeline(boto3.client("iam", region_name=REGION), client, PIPELINE, account)
        take_requested_executions(account, REGION, PIPELINE)  # nothing left from another test
        yield account, client


def test_starts_through_the_api_are_queued_once_and_the_pipelines_own_are_not(
    codepipeline: tuple[str, Any],
) -> None:
    # GIVEN the sandbox's CodePipeline
    account, client = codepipeline
    caller = boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"]

    # WHEN a rollback starts the pipeline on GOOD, the local pipeline starts its own execution for a
    # push, and someone starts it plainly
    on_good = PipelineExecutions(client).start(PIPELINE, GOOD)
    client.start_pipeline_execution(
        name=PIPELINE, clientRequestToken=f"{OWN_START_TOKEN_PREFIX}{uuid.uuid4()}"
    )
    plain = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]

    # THEN the local pipeline finds the two started by others, in order, under the ids the API returned,
    # with the override's commit (or none: main's head) and the caller
    assert has_requested_executions(account, REGION, PIPELINE)
    requested = take_requested_executions(account, REGION, PIPELINE)
    assert [(r.execution_id, r.commit, r.caller) for r in requested] == [
        (on_good, GOOD, caller),
        (plain, None, caller),
    ]
    # AND each is handed out once
    assert take_requested_executions(account, REGION, PIPELINE) == []
    assert not has_requested_executions(account, REGION, PIPELINE)


def test_another_pipelines_starts_are_not_this_ones(codepipeline: tuple[str, Any]) -> None:
    # GIVEN the sandbox's CodePipeline
    account, client = codepipeline

    # WHEN this pipeline is started on GOOD
    PipelineExecutions(client).start(PIPELINE, GOOD)

    # THEN another account's (or pipeline's) local pipeline finds nothing, and this one finds it
    assert take_requested_executions("999999999999", REGION, PIPELINE) == []
    assert take_requested_executions(account, REGION, "other-app") == []
    assert [r.commit for r in take_requested_executions(account, REGION, PIPELINE)] == [GOOD]

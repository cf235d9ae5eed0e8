"""The local pipeline's Build entry condition (sandbox/pipeline_gate.py): the LambdaInvoke rule read from
template.yaml as each env's stack resolves it, and the job it gives the gate function."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from path2prod.domain.gate import parse_job
from path2prod.sandbox.pipeline_gate import LocalGate, entry_rule
from path2prod.sandbox.roles import StackNames

ACCOUNT = "333333333333"
EXECUTION = "7c1f9d30-2a4e-4c1b-9f6e-2d5b8a4e0c11"
COMMIT = "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948"


def names(env: str, **parameters: str) -> StackNames:
    upstream = {"stg": "111111111111", "prd": "222222222222"}.get(env)
    given = {"Environment": env, "PipelineName": "path2prod-app", **parameters}
    if upstream:
        given.update(PreviousAccountId=upstream, Approvers="bob@example.com")
    return StackNames(
        env=env,
        account=ACCOUNT,
        region="eu-west-1",
        parameters=given,
        physical={"LedgerTable": "ledger", "CheckpointBucket": "bucket", "AlertsTopic": "arn:aws:sns:x"},
    )


@pytest.mark.parametrize(("env", "mode"), [("dev", "auto"), ("stg", "off"), ("prd", "off")])
def test_no_rule_in_dev_nor_with_the_gate_off(env: str, mode: str) -> None:
    assert entry_rule(names(env, GateMode=mode)) is None


@pytest.mark.parametrize("env", ["stg", "prd"])
def test_stg_and_prd_have_the_rule_the_pipeline_role_may_invoke(env: str) -> None:
    # WHEN the env's template pipeline is read
    rule = entry_rule(names(env))

    # THEN its Build stage runs the gate, with the template's UserParameters and the Source namespace
    assert rule is not None
    assert (rule.name, rule.function_name, rule.source_namespace) == (
        "ProvenanceGate",
        f"path2prod-{env}-GateFunction",
        "SourceVariables",
    )
    assert rule.function_arn == f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:path2prod-{env}-GateFunction"
    assert "#{SourceVariables.CommitId}" in rule.user_parameters and rule.invokable


class Queue:
    """An SQS client that keeps what is sent (no function answers: the job times out)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, QueueUrl: str, MessageBody: str) -> dict[str, Any]:
        self.sent.append(json.loads(MessageBody))
        return {}


def test_the_job_is_the_documented_event_with_its_variables_resolved_and_times_out_unanswered() -> None:
    # GIVEN prd's rule and a queue nobody reads
    rule = entry_rule(names("prd"))
    assert rule is not None
    queue = Queue()
    gate = LocalGate(rule, account=ACCOUNT, sqs_client=queue, queue_url="q", timeout=0.05)

    # WHEN the pipeline runs it
    outcome = gate.run("path2prod-app", EXECUTION, COMMIT)

    # THEN the gate's queue got a job the gate reads as claiming this execution and commit
    [job] = queue.sent
    parsed = parse_job(job)
    assert (parsed.account, parsed.execution_id, parsed.commit) == (ACCOUNT, EXECUTION, COMMIT)
    assert job["CodePipeline.job"]["data"]["inputArtifacts"][0]["revision"] == COMMIT
    # AND, no result coming, the condition fails, saying so
    assert not outcome.passed and "gave no result within" in outcome.message


def test_a_rule_the_pipeline_role_may_not_invoke_or_whose_variables_do_not_resolve_fails() -> None:
    rule = entry_rule(names("prd"))
    assert rule is not None
    queue = Queue()
    denied = LocalGate(replace(rule, invokable=False), account=ACCOUNT, sqs_client=queue, queue_url="q")
    unknown = LocalGate(
        replace(rule, user_parameters='{"x": "#{Nowhere.Thing}"}'),
        account=ACCOUNT,
        sqs_client=queue,
        queue_url="q",
    )
    assert "may not invoke" in denied.run("path2prod-app", EXECUTION, COMMIT).message
    assert "cannot resolve #{Nowhere.Thing}" in unknown.run("path2prod-app", EXECUTION, COMMIT).message
    assert queue.sent == []

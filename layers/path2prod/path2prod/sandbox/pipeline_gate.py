"""The Build stage's entry condition of the local pipeline: template.yaml's LambdaInvoke rule, run as
CodePipeline runs it.

CodePipeline V2 evaluates a stage's `BeforeEntry` conditions before the stage runs
(https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html). A `LambdaInvoke`
rule (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-LambdaInvoke.html)
invokes its function with a job, the Lambda invoke action's event
(https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html), its
UserParameters' variables resolved, and waits for the job's result (PutJobSuccessResult or
PutJobFailureResult); with `Result: FAIL`, a failed rule fails the stage and the execution before any
action of the stage runs. CodePipeline invokes the function with the pipeline's role, which must allow
lambda:InvokeFunction on it.

Here the job goes to the function's queue (its runtime long-polls it, and invokes the handler under the
function's own role, IAM enforced), and the pipeline waits on the emulator's record of the result
(pipeline_jobs.py), woken as soon as it is put. No rule in the env's template pipeline (dev, or GateMode
off): no condition, as in AWS.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from path2prod.sandbox.pipeline_jobs import open_job, wait_for_job_result
from path2prod.sandbox.roles import StackNames, role_definition
from path2prod.sandbox.template import load_template

log = logging.getLogger("path2prod.sandbox.pipeline")

# How long the local pipeline waits for the job's result before it fails the condition, as CodePipeline
# fails a job nobody answers (its own timeout is far longer; a sandbox runtime answers in well under 1 s).
JOB_TIMEOUT_SECONDS = 60.0
_VARIABLE = re.compile(r"#\{([A-Za-z0-9_@.-]+)\.([A-Za-z0-9_@.-]+)\}")


@dataclass(frozen=True)
class GateOutcome:
    """The condition's result: passed, or failed with the job's (or the pipeline's) message."""

    passed: bool
    message: str
    job_id: str | None = None


@dataclass(frozen=True)
class EntryRule:
    """A LambdaInvoke rule of the Build stage's BeforeEntry condition, as the env's template has it."""

    name: str
    function_name: str
    function_arn: str
    user_parameters: str
    source_namespace: str | None
    invokable: bool  # the pipeline's role allows lambda:InvokeFunction on the function


class LocalGate:
    """Runs the Build stage's entry rule of one env's pipeline for each execution."""

    def __init__(
        self,
        rule: EntryRule,
        *,
        account: str,
        sqs_client: Any,
        queue_url: str,
        timeout: float = JOB_TIMEOUT_SECONDS,
    ) -> None:
        self.rule, self.account, self.timeout = rule, account, timeout
        self.sqs, self.queue_url = sqs_client, queue_url

    def run(self, pipeline: str, execution_id: str, commit: str) -> GateOutcome:
        """Give the function its job and wait for the result (failed after `timeout` without one)."""
        rule = self.rule
        if not rule.invokable:
            return GateOutcome(
                False, f"the pipeline's role may not invoke {rule.function_name} (lambda:InvokeFunction)"
            )
        variables = {("codepipeline", "PipelineExecutionId"): execution_id}
        if rule.source_namespace:
            variables[(rule.source_namespace, "CommitId")] = commit
        unresolved = [
            f"#{{{ns}.{name}}}"
            for ns, name in _VARIABLE.findall(rule.user_parameters)
            if (ns, name) not in variables
        ]
        if unresolved:
            return GateOutcome(False, f"{rule.name}: cannot resolve {', '.join(unresolved)}")
        parameters = _VARIABLE.sub(lambda m: variables[(m.group(1), m.group(2))], rule.user_parameters)
        job_id = str(uuid.uuid4())
        open_job(job_id, self.account)
        self.sqs.send_message(
            QueueUrl=self.queue_url, MessageBody=json.dumps(self._job(job_id, pipeline, commit, parameters))
        )
        result = wait_for_job_result(job_id, self.timeout)
        if result is None:
            return GateOutcome(
                False, f"{rule.name}: {rule.function_name} gave no result within {self.timeout:.0f} s", job_id
            )
        return GateOutcome(
            result.succeeded, result.message or ("succeeded" if result.succeeded else "failed"), job_id
        )

    def _job(self, job_id: str, pipeline: str, commit: str, parameters: str) -> dict[str, Any]:
        """The job, in the shape the Lambda invoke action documents. The sandbox keeps no artifacts in S3
        and issues no artifact credentials: those fields name what it would be, empty."""
        return {
            "CodePipeline.job": {
                "id": job_id,
                "accountId": self.account,
                "data": {
                    "actionConfiguration": {
                        "configuration": {
                            "FunctionName": self.rule.function_name,
                            "UserParameters": parameters,
                        }
                    },
                    "inputArtifacts": [
                        {
                            "location": {
                                "s3Location": {
                                    "bucketName": f"path2prod-artifacts-{self.account}",
                                    "objectKey": f"{pipeline}/SourceArti/{commit[:7]}",
                                },
                                "type": "S3",
                            },
                            "revision": commit,
                            "name": "SourceArtifact",
                        }
                    ],
                    "outputArtifacts": [],
                    "artifactCredentials": {"accessKeyId": "", "secretAccessKey": "", "sessionToken": ""},
                },
            }
        }


def entry_rule(names: StackNames) -> EntryRule | None:
    """The Build stage's BeforeEntry LambdaInvoke rule of env's template pipeline (conditions such as
    GateOn resolved for env), or None when it has none."""
    resource = load_template().get("Resources", {}).get("Pipeline")
    if resource is None or not names.conditions.get(resource.get("Condition", ""), True):
        return None
    stages = names.resolve(resource["Properties"]["Stages"])
    source: dict[str, Any] = next((s for s in stages if s.get("Name") == "Source"), {})
    namespace = next((a.get("Namespace") for a in source.get("Actions", []) if a.get("Namespace")), None)
    build: dict[str, Any] = next((s for s in stages if s.get("Name") == "Build"), {})
    for condition in (build.get("BeforeEntry") or {}).get("Conditions", []):
        for rule in condition.get("Rules", []):
            if rule.get("RuleTypeId", {}).get("Provider") != "LambdaInvoke":
                continue
            configuration = rule.get("Configuration", {})
            function_name = str(configuration["FunctionName"])
            arn = f"arn:aws:lambda:{names.region}:{names.account}:function:{function_name}"
            return EntryRule(
                name=str(rule.get("Name")),
                function_name=function_name,
                function_arn=arn,
                user_parameters=str(configuration.get("UserParameters", "")),
                source_namespace=namespace,
                invokable=_pipeline_may_invoke(names, arn),
            )
    return None


def _pipeline_may_invoke(names: StackNames, function_arn: str) -> bool:
    """Whether the template's PipelineRole allows lambda:InvokeFunction on the function (what IAM would
    check when CodePipeline invokes it with that role)."""
    role = role_definition("PipelineRole", names)
    if role is None:
        return False
    for document in role["Policies"].values():
        for statement in document.get("Statement", []):
            actions = statement.get("Action", [])
            resources = statement.get("Resource", [])
            actions = [actions] if isinstance(actions, str) else actions
            resources = [resources] if isinstance(resources, str) else resources
            if (
                statement.get("Effect") == "Allow"
                and any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions)
                and any(r in (function_arn, "*") for r in resources)
            ):
                return True
    return False

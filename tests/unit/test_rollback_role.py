"""The rollback function's role, as template.yaml gives it (and the sandbox enforces it): it may start
its own env's pipeline, and nothing else of CodePipeline."""

from __future__ import annotations

import json

from path2prod.sandbox.roles import StackNames, function_policy

ACCOUNT = "333333333333"
REGION = "us-east-1"


def _prd_names() -> StackNames:
    return StackNames(
        env="prd",
        account=ACCOUNT,
        region=REGION,
        parameters={
            "Environment": "prd",
            "PipelineName": "path2prod-app",
            "PreviousAccountId": "222222222222",
        },
        physical={
            "LedgerTable": "path2prod-prd-ledger",
            "AlertsTopic": f"arn:aws:sns:{REGION}:{ACCOUNT}:path2prod-alerts",
        },
    )


def test_the_rollback_may_start_only_its_own_pipeline() -> None:
    # GIVEN prd's stack
    # WHEN the sandbox builds the rollback function's role from template.yaml
    policy = function_policy("RollbackFunction", _prd_names())

    # THEN CodePipeline appears once: StartPipelineExecution on prd's pipeline only
    codepipeline = [s for s in policy["Statement"] if "codepipeline" in json.dumps(s["Action"])]
    assert codepipeline == [
        {
            "Sid": "RerunCommitOnMain",
            "Effect": "Allow",
            "Action": "codepipeline:StartPipelineExecution",
            "Resource": f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:path2prod-app",
        }
    ]
    assert "*" not in json.dumps([s["Action"] for s in policy["Statement"]])

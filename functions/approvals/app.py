"""approvals: an upstream env's "Deployment Succeeded" (forwarded to this account) opens an approval
request for promoting that commit here, and prompts this env's approvers through SNS. From its own
account's bus, "Promotion Rejected" mails the author and the other approvers, and "Approval Requested
Again" opens a new request for a commit whose request was rejected or expired."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from path2prod.approvals import wiring
from path2prod.refusals import refusals_counted

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])
metrics = Metrics()

# The use case, built on the first event and cached (wiring); tests and benchmarks clear or replace it.
approvals = wiring.opener


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Raises InvalidEvent for a claim it cannot confirm: parked in the dead-letter queue, nothing opened.
    with refusals_counted(metrics, logger):
        handled = approvals().handle(event)
    return handled.reported(metrics, logger)

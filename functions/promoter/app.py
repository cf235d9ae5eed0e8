"""promoter: an approved request's commit is fetched from the upstream repo and pushed to this env's
main. Runs on "Promotion Approved" and on a schedule that picks up any approval still owed a push."""

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
approvals = wiring.promoter


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Raises InvalidEvent for an event it cannot confirm, PromotionPushFailed for a push to retry.
    with refusals_counted(metrics, logger):
        handled = approvals().handle(event)
    return handled.reported(metrics, logger)

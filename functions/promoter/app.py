"""promoter: an approved request's commit is fetched from the upstream repo and pushed to this env's
main. Runs on "Promotion Approved" and on a schedule that picks up any approval still owed a push."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from path2prod.approvals import wiring
from path2prod.approvals.service import Approvals, on_promotion_event
from path2prod.refusals import refusals_counted

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])
metrics = Metrics()


@cache
def approvals() -> Approvals:
    return wiring.promoter()


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Raises InvalidEvent for an event it cannot confirm, PromotionPushFailed for a push to retry.
    with refusals_counted(metrics, logger):
        outcome = on_promotion_event(event, approvals())
    if "promotion" in outcome:
        metrics.add_metric(name=f"Promotions_{outcome['promotion']}", unit=MetricUnit.Count, value=1)
    else:
        logger.info("swept approvals owed a push", extra=outcome)
    return outcome

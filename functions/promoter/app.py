"""promoter: an approved request's commit is fetched from the upstream repo and pushed to this env's
main. Runs on "Promotion Approved" and on a schedule that picks up any approval still owed a push."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from path2prod.approvals import wiring
from path2prod.approvals.service import Approvals, promote, promote_waiting
from path2prod.domain.ledger import PROMOTION_APPROVED

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
    if event.get("detail-type") == PROMOTION_APPROVED:
        # Raises PromotionPushFailed when the push fails, so the event is retried.
        request = promote(str(event["detail"]["request_id"]), approvals())
        promotion = request.promotion if request else None
        metrics.add_metric(name=f"Promotions_{promotion}", unit=MetricUnit.Count, value=1)
        return {"request_id": event["detail"]["request_id"], "promotion": promotion}
    # Anything else is the schedule (EventBridge Scheduler sends what its target input says).
    outcomes = promote_waiting(approvals())
    logger.info("swept approvals owed a push", extra={"outcomes": outcomes})
    return {"swept": outcomes}

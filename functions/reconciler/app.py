"""reconciler: on a schedule, appends the deployment entries CodePipeline's history shows and the
ledger lacks (events lost on the way), and lets their outcomes flow on as the live path's."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from path2prod.reconciler.wiring import handle, reconciler

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])
metrics = Metrics()
__all__ = ["handler", "reconciler"]  # reconciler: the cached composition root, which tests reset


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(metrics, logger)

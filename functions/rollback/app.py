"""rollback: a failed deployment in this env brings its last good commit back to `main`."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from path2prod.rollback.wiring import handle, rollbacks

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])
metrics = Metrics()
__all__ = ["handler", "rollbacks"]  # rollbacks: the cached composition root, which tests reset


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, metrics, logger)

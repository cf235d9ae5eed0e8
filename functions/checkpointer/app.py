"""checkpointer: on a schedule, copies the ledger's chain head to the Object Lock bucket."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from path2prod.checkpointer.wiring import checkpointer, handle

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])
metrics = Metrics()
__all__ = ["checkpointer", "handler"]  # checkpointer: the cached composition root, which tests reset


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(metrics)

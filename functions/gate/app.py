"""gate: the Build stage's entry condition in stg and prd; only a commit the env's ledger backs builds."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from path2prod.gate.wiring import gates, handle

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])
metrics = Metrics()
__all__ = ["gates", "handler"]  # gates: the cached composition root, which tests reset


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, metrics, logger)

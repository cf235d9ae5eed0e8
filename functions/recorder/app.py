"""recorder: CodePipeline state changes in, ledger entries and domain events out."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from path2prod.recorder.wiring import handle, recorder

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])  # only what the handler calls; patching all costs ~20 ms
metrics = Metrics()
__all__ = ["handler", "recorder"]  # recorder: the cached composition root, which tests reset


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, metrics, logger)

"""recorder: CodePipeline state changes in, ledger entries and domain events out."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from path2prod.adapters.event_bus import EventBus
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.adapters.pipelines import PipelineExecutions
from path2prod.recorder.service import Recorder, record_pipeline_event
from path2prod.recorder.settings import load_settings
from path2prod.refusals import refusals_counted

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])  # only what the handler calls; patching all costs ~20 ms
metrics = Metrics()


@cache
def recorder() -> Recorder:
    """Built on the first invocation, not at import: settings are read once, clients made lazily."""
    settings = load_settings()
    return Recorder(
        stack=settings.stack,
        ledger=LedgerTable(settings.ledger_table),
        executions=PipelineExecutions(),
        bus=EventBus(settings.event_bus),
    )


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with refusals_counted(metrics, logger):
        outcome = record_pipeline_event(event, recorder())
    metrics.add_metric(name=f"Events_{outcome.result}", unit=MetricUnit.Count, value=1)
    logger.info("pipeline event handled", extra=outcome.as_dict())
    return outcome.as_dict()

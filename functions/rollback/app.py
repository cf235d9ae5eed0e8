"""rollback: a failed deployment in this env brings its last good commit back to `main`."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from path2prod.adapters.alerts import AlertTopic
from path2prod.adapters.env_repo import EnvRepository
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.adapters.pipelines import PipelineExecutions
from path2prod.refusals import refusals_counted
from path2prod.rollback.service import Rollbacks, on_deployment_outcome
from path2prod.rollback.settings import load_settings

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])
metrics = Metrics()


@cache
def rollbacks() -> Rollbacks:
    settings = load_settings()
    return Rollbacks(
        stack=settings.stack,
        ledger=LedgerTable(settings.ledger_table),
        repository=EnvRepository(settings.repository_url),
        alerts=AlertTopic(settings.alerts_topic_arn),
        auto_rollback=settings.auto_rollback,
        pipelines=PipelineExecutions(),
    )


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Raises InvalidEvent for an event it cannot confirm: parked in the dead-letter queue, nothing pushed.
    with refusals_counted(metrics, logger):
        handled = on_deployment_outcome(event, rollbacks())
    if handled.decision is None:
        metrics.add_metric(name="RollbacksCompleted", unit=MetricUnit.Count, value=int(handled.released))
    else:
        metrics.add_metric(name="RollbackDecisions", unit=MetricUnit.Count, value=1)
    logger.info("deployment outcome handled", extra=handled.as_dict())
    return handled.as_dict()

"""The gate function's composition root, and the handler's one call."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from path2prod.adapters.alerts import AlertTopic
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.adapters.pipeline_jobs import PipelineJobs
from path2prod.adapters.pipelines import PipelineExecutions
from path2prod.gate.ports import Gate
from path2prod.gate.service import on_job
from path2prod.gate.settings import load_settings


@cache
def gates() -> Gate:
    """Built on the first invocation: settings read once, clients made lazily."""
    settings = load_settings()
    return Gate(
        stack=settings.stack,
        ledger=LedgerTable(settings.ledger_table),
        executions=PipelineExecutions(),
        jobs=PipelineJobs(),
        alerts=AlertTopic(settings.alerts_topic_arn),
        mode=settings.mode,
        windows=settings.deploy_windows,
    )


def handle(event: dict[str, Any], metrics: Metrics, logger: Logger) -> dict[str, Any]:
    """Answer one CodePipeline job (never raises for a bad job: it is answered, see service.py)."""
    answered = on_job(event, gates())
    name = {True: "GatePassed", False: "GateFailed", None: "GateJobsUnanswerable"}[answered.passed]
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.info("gate job answered", extra=answered.as_dict())
    return answered.as_dict()

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
from path2prod.domain.ledger import DEPLOYMENT_FAILED, DEPLOYMENT_SUCCEEDED
from path2prod.rollback.service import (
    Rollbacks,
    failure_from_event,
    on_deployment_failed,
    on_deployment_succeeded,
)
from path2prod.rollback.settings import load_settings

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])
metrics = Metrics()


@cache
def rollbacks() -> Rollbacks:
    settings = load_settings()
    return Rollbacks(
        env=settings.env,
        ledger=LedgerTable(settings.ledger_table),
        repository=EnvRepository(settings.repository_url),
        alerts=AlertTopic(settings.alerts_topic_arn),
        auto_rollback=settings.auto_rollback,
    )


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == DEPLOYMENT_SUCCEEDED:
        released = on_deployment_succeeded(str(event["detail"]["commit"]), rollbacks())
        metrics.add_metric(name="RollbacksCompleted", unit=MetricUnit.Count, value=int(released))
        return {"rollback_completed": released}
    if event.get("detail-type") != DEPLOYMENT_FAILED:
        handled = f"{DEPLOYMENT_FAILED!r} and {DEPLOYMENT_SUCCEEDED!r}"
        raise ValueError(f"rollback handles {handled}, not {event.get('detail-type')!r}")
    decision = on_deployment_failed(failure_from_event(event), rollbacks())
    metrics.add_metric(name="RollbackDecisions", unit=MetricUnit.Count, value=1)
    logger.info("rollback decided", extra={"verdict": decision.verdict.value, "target": decision.target})
    return {"verdict": decision.verdict.value, "target": decision.target}

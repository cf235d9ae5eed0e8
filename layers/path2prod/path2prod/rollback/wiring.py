"""The rollback function's composition root, and the handler's one call."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

# LedgerTable loads its rollback lock's code when first asked (only this function uses it): this
# function reads or takes the lock on every event, so it loads it at init, with the rest of its code.
import path2prod.adapters.rollback_lock  # noqa: F401
from path2prod.adapters.alarms import CloudWatchAlarms
from path2prod.adapters.alerts import AlertTopic
from path2prod.adapters.env_repo import EnvRepository
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.adapters.pipelines import PipelineExecutions
from path2prod.refusals import refusals_counted
from path2prod.rollback.ports import Rollbacks
from path2prod.rollback.service import on_event
from path2prod.rollback.settings import load_settings


@cache
def rollbacks() -> Rollbacks:
    """Built on the first invocation: settings read once, clients made lazily."""
    settings = load_settings()
    return Rollbacks(
        stack=settings.stack,
        ledger=LedgerTable(settings.ledger_table),
        repository=EnvRepository(settings.repository_url),
        alerts=AlertTopic(settings.alerts_topic_arn),
        auto_rollback=settings.auto_rollback,
        pipelines=PipelineExecutions(),
        bake=settings.bake,
        alarms=CloudWatchAlarms(),
    )


def handle(event: dict[str, Any], metrics: Metrics, logger: Logger) -> dict[str, Any]:
    """Act on one deployment outcome of this env, or one of its bake alarms; count and log it.

    Raises InvalidEvent for an event it cannot confirm: parked in the dead-letter queue, nothing pushed.
    """
    with refusals_counted(metrics, logger):
        handled = on_event(event, rollbacks())
    if handled.bake is not None:
        metrics.add_metric(name="BakeAlarms", unit=MetricUnit.Count, value=1)
    elif handled.decision is None:
        metrics.add_metric(name="RollbacksCompleted", unit=MetricUnit.Count, value=int(handled.released))
    else:
        metrics.add_metric(name="RollbackDecisions", unit=MetricUnit.Count, value=1)
    logger.info(
        "bake alarm handled" if handled.bake else "deployment outcome handled", extra=handled.as_dict()
    )
    return handled.as_dict()

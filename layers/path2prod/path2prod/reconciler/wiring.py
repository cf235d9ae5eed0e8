"""The reconciler's composition root: its adapters, built once per container, and the handler's one call."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from path2prod.adapters.aws_calls import MeteredClients
from path2prod.adapters.event_bus import EventBus
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.adapters.pipelines import PipelineExecutions
from path2prod.adapters.reconcile_ledger import ReconcileLedger
from path2prod.domain.reconcile import Stack
from path2prod.domain.time import utc_now
from path2prod.reconciler.service import Reconciler, reconcile
from path2prod.reconciler.settings import load_settings

# The outcome's counts, published as metrics of the same names.
_COUNTS = (
    ("pages", "ReconcilePages"),
    ("executions_seen", "ExecutionsSeen"),
    ("appended", "EntriesAppended"),
    ("published", "EventsPublished"),
    ("refused", "ExecutionsRefused"),
    ("calls", "AwsCalls"),
)


@cache
def reconciler() -> Reconciler:
    """Built on the first invocation, not at import: settings read once; the clients, made on first
    use, count every call (MeteredClients), which each run reports."""
    settings = load_settings()
    clients = MeteredClients()
    stack = settings.stack
    return Reconciler(
        stack=Stack(env=stack.env, account=stack.account, region=stack.region, pipeline=stack.pipeline),
        ledger=ReconcileLedger(LedgerTable(settings.ledger_table, clients.client("dynamodb"))),
        history=PipelineExecutions(clients.client("codepipeline")),
        bus=EventBus(settings.event_bus, clients.client("events")),
        calls=clients,
        auto_rollback=settings.auto_rollback,
        bake_minutes=settings.bake_minutes,
    )


def handle(metrics: Metrics, logger: Logger) -> dict[str, Any]:
    """Reconcile the ledger with CodePipeline now; count and log what the run did."""
    outcome = reconcile(reconciler(), now=utc_now())
    for attribute, metric in _COUNTS:
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=getattr(outcome, attribute))
    for execution_id, reason in outcome.refusals.items():
        logger.warning("execution not reconciled", extra={"execution_id": execution_id, "reason": reason})
    logger.info("reconciled", extra=outcome.as_dict())
    return outcome.as_dict()

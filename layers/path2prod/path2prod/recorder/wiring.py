"""The recorder's composition root: its adapters, built once per container, and the handler's one call."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from path2prod.adapters.dead_letters import DeadLetterQueue
from path2prod.adapters.event_bus import EventBus
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.adapters.pipelines import PipelineExecutions
from path2prod.domain.errors import InvalidEvent
from path2prod.recorder.service import Recorder, park_refused, record_pipeline_event
from path2prod.recorder.settings import load_settings
from path2prod.refusals import refusals_counted


@cache
def recorder() -> Recorder:
    """Built on the first invocation, not at import: settings are read once, clients made lazily."""
    settings = load_settings()
    return Recorder(
        stack=settings.stack,
        ledger=LedgerTable(settings.ledger_table),
        executions=PipelineExecutions(),
        bus=EventBus(settings.event_bus),
        bake_minutes=settings.bake_minutes,
        parking=DeadLetterQueue(settings.dead_letter_queue_url) if settings.dead_letter_queue_url else None,
        function_name=settings.function_name,
    )


def handle(event: dict[str, Any], metrics: Metrics, logger: Logger) -> dict[str, Any]:
    """Record one pipeline event; count and log what it did. A refused event is counted, then parked in
    the stack's dead-letter queue when DEAD_LETTER_QUEUE_URL is set, else raised."""
    try:
        with refusals_counted(metrics, logger):
            outcome = record_pipeline_event(event, recorder())
    except InvalidEvent as error:
        outcome = park_refused(event, error, recorder())
    metrics.add_metric(name=f"Events_{outcome.result}", unit=MetricUnit.Count, value=1)
    logger.info("pipeline event handled", extra=outcome.as_dict())
    return outcome.as_dict()

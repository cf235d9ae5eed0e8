"""The checkpointer's composition root, and the handler's one call."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from path2prod.adapters.checkpoints import CheckpointStore
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.checkpointer.service import Checkpointer, checkpoint_head
from path2prod.checkpointer.settings import load_settings
from path2prod.domain.time import format_time, utc_now


@cache
def checkpointer() -> Checkpointer:
    """Built on the first invocation: settings read once, clients made lazily."""
    settings = load_settings()
    return Checkpointer(
        env=settings.env,
        chain=LedgerTable(settings.ledger_table),
        store=CheckpointStore(settings.checkpoint_bucket),
    )


def handle(metrics: Metrics) -> dict[str, Any]:
    """Checkpoint the chain head now; count whether a checkpoint was written."""
    built = checkpointer()
    written = checkpoint_head(built.env, built.chain, built.store, now=format_time(utc_now()))
    metrics.add_metric(name="CheckpointsWritten", unit=MetricUnit.Count, value=1 if written else 0)
    return {"checkpoint": None if written is None else {"seq": written.seq, "hash": written.hash}}

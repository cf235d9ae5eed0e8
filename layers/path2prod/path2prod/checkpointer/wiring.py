"""The checkpointer's composition root, and the handler's one call."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from path2prod.adapters.checkpoints import CheckpointStore
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.checkpointer.service import checkpoint_head
from path2prod.checkpointer.settings import CheckpointerSettings, load_settings


@cache
def dependencies() -> tuple[CheckpointerSettings, LedgerTable, CheckpointStore]:
    """Built on the first invocation: settings read once, clients made lazily."""
    settings = load_settings()
    return settings, LedgerTable(settings.ledger_table), CheckpointStore(settings.checkpoint_bucket)


def handle(metrics: Metrics) -> dict[str, Any]:
    """Checkpoint the chain head now; count whether a checkpoint was written."""
    settings, ledger, store = dependencies()
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    written = checkpoint_head(settings.env, ledger, store, now=now)
    metrics.add_metric(name="CheckpointsWritten", unit=MetricUnit.Count, value=1 if written else 0)
    return {"checkpoint": None if written is None else {"seq": written.seq, "hash": written.hash}}

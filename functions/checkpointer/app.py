"""checkpointer: on a schedule, copies the ledger's chain head to the Object Lock bucket."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from path2prod.adapters.checkpoints import CheckpointStore
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.checkpointer.service import checkpoint_head
from path2prod.checkpointer.settings import CheckpointerSettings, load_settings

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])
metrics = Metrics()


@cache
def dependencies() -> tuple[CheckpointerSettings, LedgerTable, CheckpointStore]:
    settings = load_settings()
    return settings, LedgerTable(settings.ledger_table), CheckpointStore(settings.checkpoint_bucket)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, ledger, store = dependencies()
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    written = checkpoint_head(settings.env, ledger, store, now=now)
    metrics.add_metric(name="CheckpointsWritten", unit=MetricUnit.Count, value=1 if written else 0)
    return {"checkpoint": None if written is None else {"seq": written.seq, "hash": written.hash}}

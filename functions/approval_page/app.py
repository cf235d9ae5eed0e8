"""approval page: the Function URL that approvers' links open. GET and HEAD show, only a POST decides.

The routes and their answers live in path2prod.approvals.web; this handler wires and resolves.
The router is path2prod's own, not Powertools' event_handler: web.py says why (cold import).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from path2prod.approvals import wiring
from path2prod.approvals.web import page_router

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])
metrics = Metrics()


# The use case, built on the first request and cached (wiring); tests and benchmarks clear or replace it.
approvals = wiring.page


# Looked up on each request (not captured), so tests and benchmarks can replace `approvals`.
app = page_router(lambda: approvals(), logger=logger, metrics=metrics)


# Never log the event (whatever POWERTOOLS_LOGGER_LOG_EVENT says): its query and body hold the link's
# token, which is an approver's credential.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)  # the response is a page holding the token
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

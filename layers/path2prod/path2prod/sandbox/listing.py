"""What the emulated CodePipeline knows of each execution beyond moto, and ListPipelineExecutions
answered with it, as AWS documents the call.

moto keeps executions but answers ListPipelineExecutions with every execution at once, in insertion
order reversed, with `sourceRevisions` empty and no `nextToken`. AWS (API reference, and the CLI's
example in ../shared/aws-events/list-pipeline-executions-cli-v2.json): newest first, at most
`maxResults` (1 to 100, default 100) a page, a `nextToken` for the rest, and each summary's
`sourceRevisions` (actionName, revisionId, revisionSummary, revisionUrl), `trigger` and
`executionMode`. The sandbox's local pipeline tells the revision and trigger of each execution
(set_execution_revision, set_execution_trigger); moto keeps status and times.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from datetime import UTC, datetime
from typing import Any

from moto.codepipeline import models as codepipeline_models
from moto.core.exceptions import JsonRESTError

from path2prod.adapters.pipelines import MAX_PAGE, SOURCE_ACTION

_revisions: dict[str, dict[str, Any]] = {}
_triggers: dict[str, dict[str, str]] = {}
_lock = threading.Lock()


def set_execution_revision(execution_id: str, commit: str, summary: str, repository_url: str) -> None:
    """Tell the emulated CodePipeline which commit an execution runs."""
    with _lock:
        _revisions[execution_id] = {
            "name": "SourceArtifact",
            "revisionId": commit,
            "revisionSummary": summary,
            "revisionUrl": repository_url,
        }


def set_execution_trigger(execution_id: str, trigger_type: str, detail: str) -> None:
    """Tell the emulated CodePipeline who or what started an execution (GetPipelineExecution's trigger)."""
    with _lock:
        _triggers[execution_id] = {"triggerType": trigger_type, "triggerDetail": detail}


def revision_of(execution_id: str) -> dict[str, Any] | None:
    """The artifact revision (GetPipelineExecution's shape) an execution runs, if told."""
    with _lock:
        return _revisions.get(execution_id)


def trigger_of(execution_id: str) -> dict[str, str] | None:
    with _lock:
        return _triggers.get(execution_id)


def list_pipeline_executions(self: Any) -> str:
    """CodePipelineResponse.list_pipeline_executions, as AWS answers it (the module's docstring)."""
    name = self._get_param("pipelineName")
    page_size = self._get_param("maxResults") or MAX_PAGE
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE:
        raise JsonRESTError(
            "ValidationException", f"maxResults must be between 1 and {MAX_PAGE}, got {page_size!r}"
        )
    backend = codepipeline_models.codepipeline_backends[self.current_account][self.region]
    pipeline = backend.pipelines.get(name)
    if pipeline is None:
        raise JsonRESTError(
            "PipelineNotFoundException",
            f"Account '{self.current_account}' does not have a pipeline with name '{name}'",
        )
    # Newest first; of two started within one clock tick, the later started first.
    executions = list(reversed(pipeline.executions.values()))
    executions.sort(key=lambda execution: _aware(execution.start_time), reverse=True)
    start = _position_after(self._get_param("nextToken"), executions)
    page = executions[start : start + page_size]
    answer: dict[str, Any] = {"pipelineExecutionSummaries": [_summary(execution) for execution in page]}
    if start + page_size < len(executions):
        answer["nextToken"] = _token(page[-1].pipeline_execution_id)
    return json.dumps(answer)


def _summary(execution: Any) -> dict[str, Any]:
    execution_id = execution.pipeline_execution_id
    summary: dict[str, Any] = {
        "pipelineExecutionId": execution_id,
        "status": execution.status,
        "startTime": _aware(execution.start_time).timestamp(),
        "lastUpdateTime": _aware(execution.last_update_time).timestamp(),
        "sourceRevisions": [],
        "trigger": trigger_of(execution_id) or {"triggerType": "StartPipelineExecution", "triggerDetail": ""},
        "executionMode": "SUPERSEDED",
    }
    if execution.status_summary:
        summary["statusSummary"] = execution.status_summary
    revision = revision_of(execution_id)
    if revision:
        summary["sourceRevisions"] = [
            {
                "actionName": SOURCE_ACTION,
                "revisionId": revision["revisionId"],
                "revisionSummary": revision.get("revisionSummary", ""),
                "revisionUrl": revision.get("revisionUrl", ""),
            }
        ]
    return summary


def _token(last_execution_id: str) -> str:
    """An opaque token naming where the page ended: new executions started meanwhile shift no page."""
    return base64.urlsafe_b64encode(json.dumps({"after": last_execution_id}).encode()).decode()


def _position_after(token: str | None, executions: list[Any]) -> int:
    if not token:
        return 0
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        after = None
    ids = [execution.pipeline_execution_id for execution in executions]
    if after not in ids:
        raise JsonRESTError("InvalidNextTokenException", "The next token was specified in an invalid format.")
    return ids.index(after) + 1


def _aware(instant: datetime) -> datetime:
    """moto's times are naive UTC."""
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)

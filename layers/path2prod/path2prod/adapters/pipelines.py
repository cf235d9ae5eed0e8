"""CodePipeline: which commit an execution runs, when its events do not say; starting one; and the
pipeline's executions, newest first (the reconciler's source of truth)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from path2prod.adapters.errors import PipelineNotFound, PipelineStartRefused
from path2prod.domain.errors import ExecutionNotFound
from path2prod.domain.reconcile import ExecutionSummary

if TYPE_CHECKING:
    from mypy_boto3_codepipeline.client import CodePipelineClient


# StartPipelineExecution's refusals that name a reason a person can act on (a V1 pipeline, a revision the
# source cannot find, too many executions, a missing permission): reported as PipelineStartRefused.
_START_REFUSALS = frozenset(
    {
        "ValidationException",
        "ConflictException",
        "ConcurrentPipelineExecutionsLimitExceededException",
        "AccessDeniedException",
    }
)


@contextmanager
def _pipeline_errors(pipeline: str) -> Iterator[None]:
    """Either call's missing pipeline as PipelineNotFound; any other ClientError as it is."""
    try:
        yield
    except ClientError as error:
        if error.response["Error"]["Code"] == "PipelineNotFoundException":
            raise PipelineNotFound(f"pipeline {pipeline!r} not found in this account") from error
        raise


# The Source action's name in template.yaml's pipeline; a pipeline watched but not created by the
# stack (CreatePathToProduction=false) must name its source action the same for re-runs to work.
SOURCE_ACTION = "Source"
# ListPipelineExecutions' largest page (its maxResults: 1 to 100).
MAX_PAGE = 100


class PipelineExecutions:
    """Looks up and starts pipeline executions (GetPipelineExecution, StartPipelineExecution)."""

    def __init__(self, codepipeline_client: CodePipelineClient | None = None) -> None:
        self._client = codepipeline_client

    @property
    def client(self) -> CodePipelineClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("codepipeline")
        return self._client

    def commit_of(self, pipeline: str, execution_id: str) -> str | None:
        """The source revision of an execution, None while it has none (its Source action has not
        succeeded), ExecutionNotFound while CodePipeline does not know the execution."""
        return self.revision_and_trigger(pipeline, execution_id)[0]

    def revision_and_trigger(self, pipeline: str, execution_id: str) -> tuple[str | None, str | None]:
        """An execution's source revision (as commit_of) and who or what started it (its
        trigger.triggerDetail: a rule's ARN, a caller's ARN), from one GetPipelineExecution."""
        try:
            with _pipeline_errors(pipeline):
                response = self.client.get_pipeline_execution(
                    pipelineName=pipeline, pipelineExecutionId=execution_id
                )
        except ClientError as error:
            if error.response["Error"]["Code"] == "PipelineExecutionNotFoundException":
                raise ExecutionNotFound(f"{pipeline} has no execution {execution_id} (yet)") from error
            raise
        execution = response["pipelineExecution"]
        trigger = execution.get("trigger", {}).get("triggerDetail") or None
        for revision in execution.get("artifactRevisions", []):
            if revision.get("revisionId"):
                return revision["revisionId"], trigger
        return None, trigger

    def start(self, pipeline: str, commit: str, *, source_action: str = SOURCE_ACTION) -> str:
        """Start `pipeline` on `commit` (not on its branch's head); returns the execution id.

        A V2 pipeline takes a source revision override: StartPipelineExecution with
        sourceRevisions=[{actionName, revisionType: COMMIT_ID, revisionValue}], see
        https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_StartPipelineExecution.html
        and https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-trigger-source-overrides.html
        (botocore's model: SourceRevisionOverride). The execution's events and GetPipelineExecution's
        artifactRevisions then name that commit, so the recorder learns it as for a push.
        """
        try:
            with _pipeline_errors(pipeline):
                response = self.client.start_pipeline_execution(
                    name=pipeline,
                    sourceRevisions=[
                        {"actionName": source_action, "revisionType": "COMMIT_ID", "revisionValue": commit}
                    ],
                )
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in _START_REFUSALS:
                message = error.response["Error"].get("Message") or code
                raise PipelineStartRefused(
                    f"CodePipeline did not start {pipeline} on {commit}: {code}: {message}"
                ) from error
            raise
        return response["pipelineExecutionId"]

    def list_executions(
        self, pipeline: str, *, since: datetime, page_size: int = MAX_PAGE
    ) -> Iterator[list[ExecutionSummary]]:
        """The pipeline's executions, newest first, one ListPipelineExecutions page at a time (following
        nextToken); no page is asked for once one reached an execution started before `since` (the
        page is yielded whole: the caller leaves out what is older). PipelineNotFound for a missing
        pipeline."""
        request: dict[str, Any] = {"pipelineName": pipeline, "maxResults": page_size}
        while True:
            with _pipeline_errors(pipeline):
                response = self.client.list_pipeline_executions(**request)
            page = [execution_summary(summary) for summary in response.get("pipelineExecutionSummaries", [])]
            yield page
            token = response.get("nextToken")
            if not token or not page or min(summary.start_time for summary in page) < since:
                return
            request["nextToken"] = token


def execution_summary(summary: Mapping[str, Any]) -> ExecutionSummary:
    """A PipelineExecutionSummary as the domain reads it: the Source action's revision picked out."""
    revision = next(
        (
            str(source["revisionId"])
            for source in summary.get("sourceRevisions") or []
            if source.get("actionName") == SOURCE_ACTION and source.get("revisionId")
        ),
        None,
    )
    return ExecutionSummary(
        execution_id=str(summary["pipelineExecutionId"]),
        status=str(summary.get("status", "")),
        start_time=_aware(summary["startTime"]),
        last_update_time=_aware(summary.get("lastUpdateTime") or summary["startTime"]),
        revision=revision,
    )


def _aware(instant: datetime | float) -> datetime:
    """boto3 parses the API's timestamps into aware datetimes; a bare number is epoch seconds."""
    if isinstance(instant, datetime):
        return instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(instant), UTC)

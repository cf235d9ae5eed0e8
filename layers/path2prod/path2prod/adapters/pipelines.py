"""CodePipeline: which commit an execution runs, when its events do not say."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from path2prod.domain.errors import ExecutionNotFound, Path2ProdError

if TYPE_CHECKING:
    from mypy_boto3_codepipeline.client import CodePipelineClient


class PipelineNotFound(Path2ProdError):
    """The pipeline named by an event does not exist in this account (or this role may not see it)."""


class PipelineExecutions:
    """Looks up pipeline executions (GetPipelineExecution)."""

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
        try:
            response = self.client.get_pipeline_execution(
                pipelineName=pipeline, pipelineExecutionId=execution_id
            )
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "PipelineExecutionNotFoundException":
                raise ExecutionNotFound(f"{pipeline} has no execution {execution_id} (yet)") from error
            if code == "PipelineNotFoundException":
                raise PipelineNotFound(f"pipeline {pipeline!r} not found in this account") from error
            raise
        for revision in response["pipelineExecution"].get("artifactRevisions", []):
            if revision.get("revisionId"):
                return revision["revisionId"]
        return None

"""CodePipeline jobs: the gate's answer to the job it was given (success, or failure with why).

The contract is the Lambda invoke action's (the LambdaInvoke rule reports the same way):
https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html
PutJobSuccessResult(jobId) and PutJobFailureResult(jobId, failureDetails={type: JobFailed, message}).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from path2prod.domain.text import printable

if TYPE_CHECKING:
    from mypy_boto3_codepipeline.client import CodePipelineClient

# FailureDetails.message: 1 to 5000 characters (CodePipeline's API reference).
MAX_FAILURE_MESSAGE = 5000


class PipelineJobs:
    """Reports the result of a CodePipeline job (PutJobSuccessResult, PutJobFailureResult)."""

    def __init__(self, codepipeline_client: CodePipelineClient | None = None) -> None:
        self._client = codepipeline_client

    @property
    def client(self) -> CodePipelineClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("codepipeline")
        return self._client

    def succeed(self, job_id: str) -> None:
        """The job succeeded: the stage's entry condition passes."""
        self.client.put_job_success_result(jobId=job_id)

    def fail(self, job_id: str, message: str) -> None:
        """The job failed: the condition's result (FAIL) fails the stage before it runs."""
        text = printable(message)[:MAX_FAILURE_MESSAGE] or "refused"
        self.client.put_job_failure_result(
            jobId=job_id, failureDetails={"type": "JobFailed", "message": text}
        )

"""CodePipeline jobs: the gate's answer to the job it was given (success, or failure with why).

The contract is the Lambda invoke action's (the LambdaInvoke rule reports the same way):
https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html
PutJobSuccessResult(jobId) and PutJobFailureResult(jobId, failureDetails={type: JobFailed, message}).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from path2prod.domain.text import printable

if TYPE_CHECKING:
    from mypy_boto3_codepipeline.client import CodePipelineClient

# FailureDetails.message: 1 to 5000 characters (CodePipeline's API reference).
MAX_FAILURE_MESSAGE = 5000
log = logging.getLogger(__name__)


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
        self._answer(job_id, self.client.put_job_success_result, jobId=job_id)

    def fail(self, job_id: str, message: str) -> None:
        """The job failed: the condition's result (FAIL) fails the stage before it runs."""
        text = printable(message)[:MAX_FAILURE_MESSAGE] or "refused"
        self._answer(
            job_id,
            self.client.put_job_failure_result,
            jobId=job_id,
            failureDetails={"type": "JobFailed", "message": text},
        )

    def _answer(self, job_id: str, put: Callable[..., Any], **params: Any) -> None:
        """Report the job's result. A job that has one already (Lambda ran the same invocation again,
        after the first reported) refuses another with InvalidJobStateException: it is answered, and
        raising would only have Lambda retry it again."""
        try:
            put(**params)
        except self.client.exceptions.InvalidJobStateException:
            log.warning("job %s has its result already: not answered again", job_id)

"""CodePipeline's job results, which moto lacks: PutJobSuccessResult and PutJobFailureResult.

A function CodePipeline invokes (here the gate, a LambdaInvoke rule) answers its job with one of them
(https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PutJobSuccessResult.html,
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PutJobFailureResult.html). The sandbox
keeps each job's result here, and the local pipeline waits for it as CodePipeline does. moto's server
checks IAM before it calls the handlers below, as for any other action (resource "*": these actions have
no resource-level permissions). In-process tests under mock_aws use `job_results()`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from moto.codepipeline.responses import CodePipelineResponse
from moto.core.exceptions import JsonRESTError


@dataclass(frozen=True)
class JobResult:
    """What a job's function answered: success, or failure with its failureDetails."""

    job_id: str
    account: str
    succeeded: bool
    failure_type: str | None = None
    message: str | None = None


_results: dict[str, JobResult] = {}
_answered = threading.Condition()
# CodePipeline refuses a result for a job it did not give out; the sandbox knows the jobs it sent.
_open_jobs: dict[str, str] = {}  # job id -> account


def open_job(job_id: str, account: str) -> None:
    """A job the local pipeline gives out: a result may be put for it (once)."""
    with _answered:
        _open_jobs[job_id] = account


def job_result(job_id: str) -> JobResult | None:
    with _answered:
        return _results.get(job_id)


def wait_for_job_result(job_id: str, timeout: float) -> JobResult | None:
    """The job's result once put, or None after `timeout` seconds (woken when any result arrives)."""
    deadline = time.monotonic() + timeout
    with _answered:
        while job_id not in _results:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            _answered.wait(left)
        return _results[job_id]


def _record(response: Any, result: JobResult) -> str:
    with _answered:
        if _open_jobs.get(result.job_id) != result.account or result.job_id in _results:
            # AWS: JobNotFoundException for an unknown job; InvalidJobStateException once answered.
            code = "InvalidJobStateException" if result.job_id in _results else "JobNotFoundException"
            raise JsonRESTError(code, f"job {result.job_id} cannot take a result")
        _results[result.job_id] = result
        _answered.notify_all()
    return "{}"


def _put_job_success_result(self: Any) -> str:
    return _record(self, JobResult(str(self._get_param("jobId")), self.current_account, True))


def _put_job_failure_result(self: Any) -> str:
    details = self._get_param("failureDetails") or {}
    result = JobResult(
        str(self._get_param("jobId")),
        self.current_account,
        False,
        failure_type=details.get("type"),
        message=details.get("message"),
    )
    return _record(self, result)


def patch_job_results() -> None:
    """Teach moto's CodePipeline the two job-result actions (idempotent)."""
    CodePipelineResponse.put_job_success_result = _put_job_success_result  # type: ignore[attr-defined]
    CodePipelineResponse.put_job_failure_result = _put_job_failure_result  # type: ignore[attr-defined]


@contextlib.contextmanager
def job_results() -> Iterator[None]:
    """The job-result actions for the duration (in-process tests under mock_aws), undone on leaving
    (kept when they were there before: an emulator in the same process keeps them)."""
    names = ("put_job_success_result", "put_job_failure_result")
    had = all(hasattr(CodePipelineResponse, name) for name in names)
    patch_job_results()
    try:
        yield
    finally:
        if not had:
            for name in names:
                with contextlib.suppress(AttributeError):
                    delattr(CodePipelineResponse, name)
        with _answered:
            _results.clear()
            _open_jobs.clear()

"""moto's server, run in the sandbox daemon's process, plus two things moto lacks.

1. CodePipeline executions with source revisions: moto keeps executions but answers
   GetPipelineExecution with empty `artifactRevisions` (and a blank trigger), and ListPipelineExecutions
   without sourceRevisions, pages or order; the sandbox's local pipeline records the commit and trigger
   of each execution (listing.py keeps them) and this module adds them to moto's answers, as AWS
   would give them (listing.py answers ListPipelineExecutions). Job results (PutJobSuccessResult,
   PutJobFailureResult, which a function CodePipeline invokes answers with) are pipeline_jobs.py's. And moto
   runs nothing: an execution someone else starts (StartPipelineExecution by the CLI or a function,
   with or without a sourceRevisions override) is queued here for the env's local pipeline to run,
   under the id the API returned.
2. IAM: moto's access control, on (`enforce_iam`): a call is checked against the policies of the role
   whose credentials signed it. moto checks most services' actions against resource "*", which no
   statement naming an ARN matches; the sandbox tells moto the resource of the calls path2prod makes
   (DynamoDB tables and indexes, SNS topics, event buses, secrets, pipelines, CloudWatch alarms), as
   IAM evaluates them.
   The sandbox's own bootstrap keys act as each account's root (moto has no root user).

Events between accounts are delivered as bus policies allow in `bus_policies.py`; the saving and
restoring of tables and objects across restarts is `snapshots.py`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from moto import settings as moto_settings
from moto.cloudwatch.responses import CloudWatchResponse
from moto.codepipeline import models as codepipeline_models
from moto.codepipeline.responses import CodePipelineResponse
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import AccessDeniedError, JsonRESTError
from moto.core.utils import utcnow
from moto.dynamodb.responses import DynamoHandler
from moto.events.responses import EventsHandler
from moto.secretsmanager.models import secretsmanager_backends
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.server import ThreadedMotoServer
from moto.sns.responses import SNSResponse
from moto.sts.models import sts_backends

from path2prod.adapters.pipelines import SOURCE_ACTION
from path2prod.sandbox.listing import (
    list_pipeline_executions,
    revision_of,
    trigger_of,
)
from path2prod.sandbox.listing import (
    set_execution_revision as set_execution_revision,  # the local pipeline's and tests' way in
)
from path2prod.sandbox.listing import (
    set_execution_trigger as set_execution_trigger,
)
from path2prod.sandbox.pipeline_jobs import patch_job_results

log = logging.getLogger("path2prod.sandbox.emulator")


# The local pipeline's own starts (on a move of main) carry this request-token prefix, so they are not
# queued as started by someone else: it runs them itself, once.
OWN_START_TOKEN_PREFIX = "path2prod-sandbox-push-"  # noqa: S105 - an idempotency token, no secret


@dataclass(frozen=True)
class RequestedExecution:
    """An execution started through the API by someone other than the local pipeline."""

    account: str
    region: str
    pipeline: str
    execution_id: str
    commit: str | None  # the sourceRevisions override's COMMIT_ID, or None: run the branch's head
    caller: str  # who started it: the event's execution-trigger names them, as CodePipeline does


_requested: list[RequestedExecution] = []
_requested_lock = threading.Lock()


def take_requested_executions(account: str, region: str, pipeline: str) -> list[RequestedExecution]:
    """The executions started through the API for this pipeline since the last call, oldest first."""
    with _requested_lock:
        mine = [r for r in _requested if (r.account, r.region, r.pipeline) == (account, region, pipeline)]
        for request in mine:
            _requested.remove(request)
    return mine


def has_requested_executions(account: str, region: str, pipeline: str) -> bool:
    with _requested_lock:
        return any((r.account, r.region, r.pipeline) == (account, region, pipeline) for r in _requested)


def set_execution_status(backend_execution: Any, status: str) -> None:
    """Set an execution's status, and its lastUpdateTime as CodePipeline does with each change."""
    backend_execution.status = status
    backend_execution.last_update_time = utcnow()


def _with_revisions(to_dict: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """moto's description of an execution, with the revision `set_execution_revision` gave it."""

    def to_dict_with_revisions(self: Any) -> dict[str, Any]:
        described: dict[str, Any] = to_dict(self)
        revision = revision_of(self.pipeline_execution_id)
        trigger = trigger_of(self.pipeline_execution_id)
        if revision:
            described["artifactRevisions"] = [revision]
        if trigger:
            described["trigger"] = trigger
        return described

    return to_dict_with_revisions


@contextlib.contextmanager
def executions_with_revisions() -> Iterator[None]:
    """Only the revisions part of the sandbox's CodePipeline, undone on leaving: GetPipelineExecution
    names the commit `set_execution_revision` gave an execution (bench/ runs handlers in-process so)."""
    original = codepipeline_models.PipelineExecution.to_dict
    codepipeline_models.PipelineExecution.to_dict = _with_revisions(original)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        codepipeline_models.PipelineExecution.to_dict = original  # type: ignore[method-assign]


@contextlib.contextmanager
def listed_with_revisions() -> Iterator[None]:
    """Only the listing part of the sandbox's CodePipeline, undone on leaving: ListPipelineExecutions
    answers as AWS documents it (listing.py): newest first, sourceRevisions, pages and nextToken."""
    original = CodePipelineResponse.list_pipeline_executions
    CodePipelineResponse.list_pipeline_executions = list_pipeline_executions  # type: ignore[method-assign]
    try:
        yield
    finally:
        CodePipelineResponse.list_pipeline_executions = original  # type: ignore[method-assign]


def _patch_codepipeline() -> None:
    patch_job_results()
    original = codepipeline_models.PipelineExecution.to_dict
    codepipeline_models.PipelineExecution.to_dict = _with_revisions(original)  # type: ignore[method-assign,assignment]
    CodePipelineResponse.list_pipeline_executions = list_pipeline_executions  # type: ignore[method-assign]
    # moto marks an execution Succeeded at once; the local pipeline sets the real status as it runs.
    original_init = codepipeline_models.PipelineExecution.__init__

    def init_in_progress(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.status = "InProgress"

    codepipeline_models.PipelineExecution.__init__ = init_in_progress  # type: ignore[method-assign]

    original_start = CodePipelineResponse.start_pipeline_execution
    if getattr(original_start, "queues_for_local_pipeline", False):
        return

    def start_and_queue(self: Any) -> str:
        answer: str = original_start(self)
        token = self._get_param("clientRequestToken") or ""
        if not token.startswith(OWN_START_TOKEN_PREFIX):
            request = RequestedExecution(
                account=self.current_account,
                region=self.region,
                pipeline=self._get_param("name"),
                execution_id=json.loads(answer)["pipelineExecutionId"],
                commit=_overridden_commit(self._get_param("sourceRevisions") or []),
                caller=_caller_arn(self),
            )
            with _requested_lock:
                _requested.append(request)
        return answer

    start_and_queue.queues_for_local_pipeline = True  # type: ignore[attr-defined]
    CodePipelineResponse.start_pipeline_execution = start_and_queue  # type: ignore[method-assign]


def _caller_arn(response: Any) -> str:
    authorization = response.headers.get("Authorization") or ""
    access_key = authorization.partition("Credential=")[2].partition("/")[0]
    try:
        backend = sts_backends[response.current_account]["global"]
        return str(backend.get_caller_identity(access_key, response.region)[1])
    except Exception:  # an identity moto cannot tell: still an account's principal
        return f"arn:aws:iam::{response.current_account}:root"


def _overridden_commit(overrides: list[dict[str, Any]]) -> str | None:
    """The commit a sourceRevisions override names for the Source action (the pipeline has one)."""
    for override in overrides:
        if override.get("revisionType") == "COMMIT_ID" and override.get("actionName") == SOURCE_ACTION:
            return str(override["revisionValue"])
    return None


def enforce_iam(bootstrap_access_keys: frozenset[str]) -> None:
    """Turn on moto's IAM access control for every request but those signed with a bootstrap key."""
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authorize_unless_root(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        authorization = self.headers.get("Authorization") or ""
        access_key = authorization.partition("Credential=")[2].partition("/")[0]
        if access_key in bootstrap_access_keys:
            return
        try:
            original(self, iam_request_cls, resource)
        except AccessDeniedError as denied:
            if "x-amz-json" not in (self.headers.get("Content-Type") or ""):
                raise
            # JSON-protocol services (DynamoDB, EventBridge, ...) answer AccessDeniedException in
            # JSON, as AWS does; moto's XML error would reach boto3 as a bare "403".
            raise JsonRESTError(
                "AccessDeniedException", f"{denied.message} on resource: {resource}"
            ) from None

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize_unless_root  # type: ignore[method-assign]
    DynamoHandler._determine_resource = _dynamodb_resource  # type: ignore[attr-defined]
    SNSResponse._determine_resource = _sns_resource  # type: ignore[attr-defined]
    EventsHandler._determine_resource = _events_resource  # type: ignore[attr-defined]
    SecretsManagerResponse._determine_resource = _secret_resource  # type: ignore[attr-defined]
    CodePipelineResponse._determine_resource = _pipeline_resource  # type: ignore[attr-defined]
    CloudWatchResponse._determine_resource = _alarm_resource  # type: ignore[attr-defined]


def _json_body(response: Any) -> dict[str, Any]:
    if isinstance(response.body, dict):  # DynamoDB's handler has parsed it already
        return response.body
    try:
        body = json.loads(response.body or "{}")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _dynamodb_resource(self: Any) -> str:
    body = _json_body(self)
    table = body.get("TableName")
    if not table and isinstance(body.get("RequestItems"), dict) and body["RequestItems"]:
        table = next(iter(body["RequestItems"]))  # Batch*Item: the first table (AWS checks each)
    for item in body.get("TransactItems") or []:
        for operation in item.values():
            table = table or operation.get("TableName")
    if not table:
        return "*"
    arn = (
        table
        if table.startswith("arn:")
        else f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{table}"
    )
    if body.get("IndexName"):
        arn += f"/index/{body['IndexName']}"
    return str(arn)


def _sns_resource(self: Any) -> str:
    topic = self.querystring.get("TopicArn") or self.querystring.get("TargetArn")
    return str(topic[0]) if topic else "*"


def _events_resource(self: Any) -> str:
    body = _json_body(self)
    entries = body.get("Entries") or []
    bus = (entries[0].get("EventBusName") if entries else None) or body.get("EventBusName") or "default"
    if str(bus).startswith("arn:"):
        return str(bus)
    return f"arn:aws:events:{self.region}:{self.current_account}:event-bus/{bus}"


def _secret_resource(self: Any) -> str:
    secret_id = _json_body(self).get("SecretId")
    if not secret_id:
        return "*"
    try:
        return str(secretsmanager_backends[self.current_account][self.region].describe_secret(secret_id).arn)
    except Exception:
        return "*"


def _pipeline_resource(self: Any) -> str:
    body = _json_body(self)
    name = body.get("pipelineName") or body.get("name")
    return f"arn:aws:codepipeline:{self.region}:{self.current_account}:{name}" if name else "*"


def _alarm_resource(self: Any) -> str:
    """The alarm a call names: DescribeAlarms of one name (the rollback function's), SetAlarmState.
    Several names, or none, stay "*": only a statement allowing every alarm matches, as in IAM."""
    names = self._get_param("AlarmNames") or ([name] if (name := self._get_param("AlarmName")) else [])
    if len(names) != 1:
        return "*"
    return f"arn:aws:cloudwatch:{self.region}:{self.current_account}:alarm:{names[0]}"


def backend_execution(account: str, region: str, pipeline: str, execution_id: str) -> Any:
    """moto's own execution object, so the local pipeline can set its status."""
    backend = codepipeline_models.codepipeline_backends[account][region]
    return backend.pipelines[pipeline].executions[execution_id]


class Emulator:
    """moto's server on 127.0.0.1:port, with the sandbox's additions."""

    def __init__(self, port: int) -> None:
        _patch_codepipeline()
        self.port = port
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

        self.started = False

    def start(self) -> None:
        self._server.start()
        self.started = True

    def stop(self) -> None:
        if self.started:
            self._server.stop()
            self.started = False

"""The recorder handler in-process against moto, with the ledger table built from template.yaml.

Nothing here is autouse: other integration tests (the CLI against a moto server) share this folder.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from path2prod import ENVS
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.adapters.pipelines import PipelineExecutions
from path2prod.sandbox.template import table_definition
from tests.support.handlers import function_module
from tests.support.lambda_context import LambdaContext
from tests.support.lambda_env import set_lambda_env
from tests.support.moto_server import moto_server

REGION = "eu-west-1"
ENV = "dev"

ACCOUNT = "111111111111"
PIPELINE = "path2prod-app"


def set_recorder_env(monkeypatch: pytest.MonkeyPatch, ledger_table: str) -> None:
    """The recorder's environment (the other functions' tests add theirs on top of it)."""
    set_lambda_env(
        monkeypatch,
        "recorder",
        PATH2PROD_ENV=ENV,
        ACCOUNT_ID=ACCOUNT,
        PIPELINE_NAME=PIPELINE,
        EVENT_BUS_NAME="default",
        LEDGER_TABLE=ledger_table,
    )


# A new context (a new request id) for each invocation, as Lambda gives.
recorder_context = partial(LambdaContext, "path2prod-dev-RecorderFunction", account=ACCOUNT, region=REGION)


def create_ledger_table(name: str | None = None) -> LedgerTable:
    """A fresh ledger table in moto, defined by template.yaml's own LedgerTable."""
    name = name or f"ledger-{uuid.uuid4().hex[:12]}"
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(**table_definition(table_name=name))
    return LedgerTable(name, client)


@pytest.fixture(scope="module")
def aws_endpoint() -> Iterator[str]:
    """A moto server of the module's own (tests that drive the CLI or a subprocess against endpoints)."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS API, with the recorder's environment (its table is named by `ledger`)."""
    set_recorder_env(monkeypatch, "ledger-not-created-yet")
    with mock_aws():
        yield


@pytest.fixture
def dynamodb(aws: None) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def ledgers(dynamodb: Any) -> dict[str, LedgerTable]:
    """An empty ledger table per env, `ledger-<env>` (one per account in AWS; one moto here)."""
    tables = {}
    for env in ENVS:
        dynamodb.create_table(**table_definition(table_name=f"ledger-{env}"))
        tables[env] = LedgerTable(f"ledger-{env}", dynamodb)
    return tables


@pytest.fixture
def ledger(aws: None, monkeypatch: pytest.MonkeyPatch) -> LedgerTable:
    """The account's ledger table, empty; the recorder handler writes to it."""
    table = create_ledger_table()
    monkeypatch.setenv("LEDGER_TABLE", table.table_name)
    return table


@pytest.fixture
def recorder_app(aws: None) -> Iterator[ModuleType]:
    """functions/recorder/app.py, its cached dependencies rebuilt for this test."""
    # Tracing is disabled by set_lambda_env (the `aws` fixture) before the first load.
    module = function_module("recorder")
    module.recorder.cache_clear()
    yield module
    module.recorder.cache_clear()


@pytest.fixture
def invoke_recorder(
    recorder_app: ModuleType, ledger: LedgerTable
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Invoke the recorder handler with one event, as Lambda would; returns what the handler returns."""

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = recorder_app.handler(event, recorder_context())
        return result

    return invoke


@dataclass
class StubbedCodePipeline:
    """A real codepipeline client whose answers the test queues (moto keeps no artifact revisions)."""

    client: Any
    stubber: Stubber
    calls: list[dict[str, Any]] = field(default_factory=list)

    def knows(self, response: dict[str, Any], **expected: str) -> None:
        self.stubber.add_response("get_pipeline_execution", response, expected or None)

    def knows_nothing(self) -> None:
        self.stubber.add_client_error(
            "get_pipeline_execution",
            service_error_code="PipelineExecutionNotFoundException",
            http_status_code=400,
        )


def stub_codepipeline(recorder_app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> StubbedCodePipeline:
    """Make the recorder's PipelineExecutions use a stubbed client that counts GetPipelineExecution."""
    client = boto3.client("codepipeline", region_name=REGION)
    stubbed = StubbedCodePipeline(client, Stubber(client))
    client.meta.events.register(
        "before-parameter-build.codepipeline.GetPipelineExecution",
        lambda params, **_: stubbed.calls.append(dict(params)),
    )
    stubbed.stubber.activate()
    # The adapter takes an optional client, so the handler's own wiring is kept, only the client swapped.
    from path2prod.recorder import wiring

    monkeypatch.setattr(wiring, "PipelineExecutions", partial(PipelineExecutions, codepipeline_client=client))
    return stubbed


@dataclass(frozen=True)
class RecorderHarness:
    """The recorder handler and what a test needs around it, for tests that manage their own tables."""

    app: ModuleType

    def use_fresh_ledger(self, monkeypatch: pytest.MonkeyPatch) -> LedgerTable:
        """A new empty table, and the handler rebuilt to write to it."""
        table = create_ledger_table()
        monkeypatch.setenv("LEDGER_TABLE", table.table_name)
        self.app.recorder.cache_clear()
        return table

    def stub_codepipeline(self, monkeypatch: pytest.MonkeyPatch) -> StubbedCodePipeline:
        return stub_codepipeline(self.app, monkeypatch)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.app.handler(event, recorder_context())
        return result


@pytest.fixture
def recorder_harness(recorder_app: ModuleType) -> RecorderHarness:
    return RecorderHarness(recorder_app)


@pytest.fixture
def codepipeline(recorder_app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[StubbedCodePipeline]:
    stubbed = stub_codepipeline(recorder_app, monkeypatch)
    yield stubbed
    stubbed.stubber.deactivate()

"""AWS API calls per invocation, counted in-process under moto: the recorder's scenarios (gated: at most
API_CALLS_TARGET calls for a recorded event, the brief's bar) and the counting every scenario shares."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.common import ACCOUNT, LEDGER_TABLE, MOTO_ENV, PIPELINE, REGION
from tests.support.lambda_context import LambdaContext
from tests.support.samples import readdressed, real_commits

API_CALLS_TARGET = 4

API_ENV = {
    "PATH2PROD_ENV": "dev",
    "ACCOUNT_ID": ACCOUNT,
    "PIPELINE_NAME": PIPELINE,
    "LEDGER_TABLE": LEDGER_TABLE,
    "EVENT_BUS_NAME": "default",
    "POWERTOOLS_METRICS_NAMESPACE": "path2prod",
    "POWERTOOLS_SERVICE_NAME": "recorder",
    "POWERTOOLS_TRACE_DISABLED": "true",
    # The handler logs every event at INFO; the benchmark's own output stays readable without it.
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    **MOTO_ENV,
}


@dataclass
class Scenario:
    """A recorder scenario: one CodePipeline event, after `seed` events (not counted)."""

    key: str
    description: str
    event: dict[str, Any]
    expected_result: str
    seed: list[dict[str, Any]] = field(default_factory=list)  # handled first, not counted
    moto_execution_commit: str | None = None  # start the execution in moto, with this revision


@dataclass
class ScenarioResult:
    function: str
    key: str
    description: str
    calls: list[str]
    count: int
    result: str
    expected_result: str
    target: int | None = API_CALLS_TARGET  # gated: the brief's bar, for the recorder only
    budget: int | None = None  # the figure docs/benchmarks.md gives; exceeding it is reported, not gated
    git: list[str] = field(default_factory=list)  # git round trips, not AWS API calls (approval flow)
    ok: bool = False
    over_budget: bool = False
    error: str | None = None


def context_for(function: str) -> LambdaContext:
    """The context Lambda gives path2prod-<function> in the benchmark's account and region."""
    return LambdaContext(function_name=f"path2prod-{function}", account=ACCOUNT, region=REGION)


@contextlib.contextmanager
def counting_calls(calls: list[str]) -> Iterator[None]:
    """Append to `calls` each AWS operation called by a client of any botocore session created meanwhile.

    The `before-call` hook goes in botocore's BUILTIN_HANDLERS (where moto puts its own hook), which every
    new session registers: not every client comes from boto3's default session (EnvRepository and
    Powertools' parameters utility make a boto3.Session() of their own).
    """
    from botocore.handlers import BUILTIN_HANDLERS

    def count_call(model: Any, **_: Any) -> None:
        calls.append(f"{model.service_model.service_id.replace(' ', '')}.{model.name}")

    hook = ("before-call", count_call)
    BUILTIN_HANDLERS.append(hook)
    try:
        yield
    finally:
        BUILTIN_HANDLERS.remove(hook)


def _here(sample: dict[str, Any]) -> dict[str, Any]:
    """An AWS sample as it reaches the recorder's stack: its account, region and pipeline, and 40-hex
    commits where AWS's pages write placeholders ("8cf40fEXAMPLE"); the shape stays AWS's."""
    real = real_commits(sample)
    return readdressed(real, account=ACCOUNT, region=REGION, pipeline=PIPELINE) if "detail" in real else real


def recorder_scenarios(aws_events: Path) -> list[Scenario]:
    def load(name: str) -> dict[str, Any]:
        event: dict[str, Any] = json.loads((aws_events / name).read_text())
        return _here(event)

    source = load("action-source-codecommit-succeeded.json")
    started = load("pipeline-started.json")
    succeeded = load("pipeline-succeeded.json")
    samples = [source, started, succeeded]
    revision = load("get-pipeline-execution.json")["pipelineExecution"]["artifactRevisions"][0]
    # All three samples are one execution of "myPipeline"; checked so a change of the samples shows.
    executions = {(e["detail"]["pipeline"], e["detail"]["execution-id"]) for e in samples}
    if len(executions) != 1:
        raise RuntimeError(f"the AWS samples no longer share one pipeline execution: {sorted(executions)}")
    return [
        Scenario("a", "source action SUCCEEDED (commit learnt)", source, "commit-learnt"),
        Scenario("b", "pipeline STARTED, commit known", started, "recorded", seed=[source]),
        Scenario("c", "pipeline SUCCEEDED, commit known (publishes)", succeeded, "recorded", seed=[source]),
        Scenario(
            "d",
            "pipeline SUCCEEDED, commit unknown (GetPipelineExecution)",
            succeeded,
            "recorded",
            moto_execution_commit=revision["revisionId"],
        ),
        Scenario("e", "duplicate of (c)", succeeded, "duplicate", seed=[source, succeeded]),
    ]


def start_moto_execution(session: Any, pipeline: str) -> str:
    """Create `pipeline` in moto as the sandbox does (its role, Source -> Build) and start one execution;
    return its id."""
    from path2prod.sandbox.provisioning import create_pipeline

    create_pipeline(session.client("iam"), session.client("codepipeline"), pipeline, ACCOUNT)
    execution_id: str = session.client("codepipeline").start_pipeline_execution(name=pipeline)[
        "pipelineExecutionId"
    ]
    return execution_id


def run_scenario(handler_module: ModuleType, function: str, scenario: Scenario) -> ScenarioResult:
    """Count the AWS calls the recorder makes for the scenario's event, after its seed events."""
    import boto3
    from moto import mock_aws

    from path2prod.sandbox.emulator import executions_with_revisions, set_execution_revision
    from path2prod.sandbox.template import table_definition

    calls: list[str] = []
    event = copy.deepcopy(scenario.event)
    outcome: dict[str, Any] = {}
    error = None
    with mock_aws(), executions_with_revisions():
        setup = boto3.session.Session(region_name=REGION)  # made before the counter: never counted
        setup.client("dynamodb").create_table(**table_definition(table_name=LEDGER_TABLE))
        if scenario.moto_execution_commit:
            execution_id = start_moto_execution(setup, event["detail"]["pipeline"])
            set_execution_revision(execution_id, scenario.moto_execution_commit, "bench", "")
            event["detail"]["execution-id"] = execution_id
        with counting_calls(calls):
            # The handler makes its clients lazily with boto3.client(...), i.e. from the default session:
            # a fresh one per scenario, made once the counter is in place.
            boto3.setup_default_session(region_name=REGION)
            handler_module.recorder.cache_clear()
            context = context_for(function)
            with contextlib.redirect_stdout(io.StringIO()):  # Metrics prints its EMF blob
                for seed in scenario.seed:
                    handler_module.handler(copy.deepcopy(seed), context)
                calls.clear()
                try:
                    outcome = handler_module.handler(event, context)
                except Exception as exc:  # reported, and fails the benchmark
                    error = f"{type(exc).__name__}: {exc}"
        handler_module.recorder.cache_clear()
    result = outcome.get("result", "error")
    ok = error is None and result == scenario.expected_result and len(calls) <= API_CALLS_TARGET
    if scenario.moto_execution_commit and ok:
        commit = (outcome.get("entry") or {}).get("commit")
        ok = commit == scenario.moto_execution_commit
        if not ok:
            error = f"recorded commit {commit!r}, CodePipeline said {scenario.moto_execution_commit!r}"
    return ScenarioResult(
        function=function,
        key=scenario.key,
        description=scenario.description,
        calls=list(calls),
        count=len(calls),
        result=result,
        expected_result=scenario.expected_result,
        target=API_CALLS_TARGET,
        ok=ok,
        error=error,
    )

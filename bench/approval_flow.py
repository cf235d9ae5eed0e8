"""The approval flow's AWS calls: stg's approvals, approval page and promoter functions, invoked in
turn against moto and real bare git repositories. Each scenario's outcome is checked; its count is
compared with the budget docs/benchmarks.md gives (reported, not gated). Git round trips are counted
apart: they are no AWS API calls."""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.api_calls import ScenarioResult, context_for, counting_calls
from bench.approval_world import (
    APPROVERS,
    ApprovalWorld,
    Containers,
    Invocation,
    build_approval_world,
    counting_git,
)
from bench.common import REGION, patched_env


@dataclass
class FlowScenario:
    """An approval-flow scenario: `seed` invocations (not counted), then the measured one."""

    key: str
    description: str
    measured: Invocation
    expected_result: str
    outcome: Callable[[ApprovalWorld, dict[str, Any]], str]  # what the measured invocation achieved
    budget: int
    seed: list[Invocation] = field(default_factory=list)


def opened(world: ApprovalWorld, result: dict[str, Any]) -> str:
    """Opened (a request new in this scenario) or found, its state, and the older requests' states."""
    verb = "found" if result["request_id"] in world.opened else "opened"
    older = [world.state_of(known) for known in world.opened if known != result["request_id"]]
    return f"{verb} {result['state']}" + "".join(f", older {state}" for state in older)


def page_answered(world: ApprovalWorld, result: dict[str, Any]) -> str:
    return f"HTTP {result['statusCode']}, request {world.state_of(world.opened[-1])}"


def pushed(world: ApprovalWorld, result: dict[str, Any]) -> str:
    commit = world.requests.get(result["request_id"]).commit
    moved = "moved" if world.target_main() == commit else "NOT moved"
    return f"promotion {result['promotion']}, stg main {moved}"


def _opener(feature: int = 0, *, new_container: bool = False) -> Invocation:
    return Invocation("approvals", lambda world: world.succeeded_upstream(feature), new_container)


def _link(method: str, decision: str | None = None, *, new_container: bool = False) -> Invocation:
    # The first approver is Bob (Alice, the author, approves nothing); the template's quorum is 1.
    return Invocation(
        "approval_page", lambda world: world.link(method, APPROVERS[0], decision), new_container
    )


def approvals_scenarios(_: Path) -> list[FlowScenario]:
    n = len(APPROVERS)  # one SNS Publish per approver; every other call is one per request
    return [
        FlowScenario(
            "a",
            f"new upstream success, {n} approvers, first invocation of a container",
            _opener(new_container=True),
            "opened PENDING",
            opened,
            budget=8 + n,
        ),
        FlowScenario(
            "a'",
            "newer upstream success, warm container (supersedes (a)'s request)",
            _opener(1),
            "opened PENDING, older SUPERSEDED",
            opened,
            budget=6 + n,
            seed=[_opener()],
        ),
        FlowScenario(
            "b",
            "duplicate of (a), warm container",
            _opener(),
            "found PENDING",
            opened,
            budget=1,
            seed=[_opener()],
        ),
    ]


def approval_page_scenarios(_: Path) -> list[FlowScenario]:
    return [
        FlowScenario(
            "c",
            "GET of a link, first invocation of a container",
            _link("GET", new_container=True),
            "HTTP 200, request PENDING",
            page_answered,
            budget=2,
            seed=[_opener()],
        ),
        FlowScenario(
            "c'",
            "GET of a link, warm container",
            _link("GET"),
            "HTTP 200, request PENDING",
            page_answered,
            budget=1,
            seed=[_opener(), _link("GET")],
        ),
        FlowScenario(
            "d",
            "POST approve reaching the quorum (announces), warm after the GET",
            _link("POST", "approve"),
            "HTTP 200, request APPROVED",
            page_answered,
            budget=4,
            seed=[_opener(), _link("GET")],
        ),
        FlowScenario(
            "d'",
            "the same POST, first invocation of a container",
            _link("POST", "approve", new_container=True),
            "HTTP 200, request APPROVED",
            page_answered,
            budget=5,
            seed=[_opener()],
        ),
        FlowScenario(
            "e",
            "the same POST again (409), warm container",
            _link("POST", "approve"),
            "HTTP 409, request APPROVED",
            page_answered,
            budget=1,
            seed=[_opener(), _link("POST", "approve")],
        ),
    ]


def promoter_scenarios(_: Path) -> list[FlowScenario]:
    announced = Invocation("promoter", lambda world: world.promotion_approved(), new_container=True)
    return [
        FlowScenario(
            "f",
            "promote the approved request, first invocation of a container",
            announced,
            "promotion PUSHED, stg main moved",
            pushed,
            budget=6,
            seed=[_opener(), _link("POST", "approve")],
        ),
    ]


def run_flow_scenario(
    handler_for: Callable[[str], ModuleType], function: str, scenario: FlowScenario
) -> ScenarioResult:
    """Build stg's world, run the seed invocations, then count the AWS calls (and, apart, the git round
    trips) of the measured one. Its outcome is checked (ok); its count is compared with the budget."""
    import boto3
    from moto import mock_aws

    calls: list[str] = []
    git_operations: list[str] = []
    repositories: dict[str, str] = {}
    counted: tuple[list[str], list[str]] = ([], [])
    result = "error"
    error = None
    with (
        tempfile.TemporaryDirectory(prefix="path2prod-bench-") as root,
        mock_aws(),
        counting_git(git_operations, repositories),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # Powertools warns of an invocation that added no metric
        world = build_approval_world(boto3.session.Session(region_name=REGION), Path(root))
        repositories.update({str(world.upstream): "dev", str(world.target): "stg"})
        containers = Containers(Path(root), handler_for)

        def invoke(step: Invocation) -> dict[str, Any]:
            event = step.event(world)
            module = containers.enter(step)
            calls.clear()
            git_operations.clear()
            try:
                answer: dict[str, Any] = module.handler(event, context_for(step.function))
            finally:
                containers.leave(step)
            return answer

        try:
            with (
                patched_env(world.settings),
                counting_calls(calls),
                contextlib.redirect_stdout(io.StringIO()),  # Metrics prints its EMF blob
            ):
                boto3.setup_default_session(region_name=REGION)  # once the counter is in place
                for step in scenario.seed:
                    answer = invoke(step)
                    if step.function == "approvals" and answer["request_id"] not in world.opened:
                        world.opened.append(answer["request_id"])
                try:
                    answer = invoke(scenario.measured)
                except Exception as exc:  # reported, and fails the benchmark
                    error = f"{type(exc).__name__}: {exc}"
                counted = (list(calls), list(git_operations))
                if error is None:
                    result = scenario.outcome(world, answer)
        except Exception as exc:  # the set-up failed (a seed): nothing was measured
            error = f"before the measured invocation: {type(exc).__name__}: {exc}"
        finally:
            containers.close()
    return ScenarioResult(
        function=function,
        key=scenario.key,
        description=scenario.description,
        calls=counted[0],
        count=len(counted[0]),
        result=result,
        expected_result=scenario.expected_result,
        target=None,
        budget=scenario.budget,
        git=counted[1],
        ok=error is None and result == scenario.expected_result,
        over_budget=len(counted[0]) > scenario.budget,
        error=error,
    )

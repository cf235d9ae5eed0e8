"""The Lambda functions the sandbox runs, described from template.yaml.

Each function's environment variables and its EventBridge rule pattern are read from the template, with
Refs resolved to the sandbox's names, so the handlers see what they would see in the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from path2prod import ENVS
from path2prod.sandbox.errors import TemplateError
from path2prod.sandbox.template import load_template, project_root, resolve, rule_pattern


@dataclass(frozen=True)
class SandboxFunction:
    name: str  # short name, also the folder under functions/
    logical_id: str  # the AWS::Serverless::Function in template.yaml
    rule_event: str | None = None  # its EventBridgeRule event in template.yaml
    # Further EventBridgeRule events of the same function (each its own rule, one queue for them all).
    more_rule_events: tuple[str, ...] = ()
    # Scheduled functions run every this many seconds in the sandbox (the template's rate is for AWS).
    every_seconds: float | None = None
    # Deployed only where there is an upstream env (stg, prd): the template's HasPreviousAccount.
    downstream_only: bool = False
    # Reached over HTTP (a Function URL) rather than through an EventBridge rule.
    function_url: bool = False
    # Invoked by the pipeline (a LambdaInvoke rule): its queue is fed by the local pipeline, no rule.
    pipeline_rule: bool = False
    # Scheduled every this SandboxConfig field's seconds instead (`local up` sets it), when named.
    every_setting: str | None = None

    def runs_in(self, env: str) -> bool:
        return not self.downstream_only or env != ENVS[0]

    @property
    def code_dir(self) -> Path:
        return project_root() / "functions" / self.name

    @property
    def handler(self) -> str:
        return str(load_template()["Resources"][self.logical_id]["Properties"]["Handler"])

    def sets(self, variable: str) -> bool:
        """Whether template.yaml gives the function the environment variable `variable`."""
        properties = load_template()["Resources"][self.logical_id]["Properties"]
        return variable in properties.get("Environment", {}).get("Variables", {})

    def rule_pattern(self, refs: dict[str, str]) -> dict[str, Any] | None:
        return rule_pattern(self.logical_id, self.rule_event, refs) if self.rule_event else None

    def rule_patterns(self, refs: dict[str, str]) -> dict[str, dict[str, Any]]:
        """Each of its EventBridgeRule events' patterns, by event name."""
        names = ([self.rule_event] if self.rule_event else []) + list(self.more_rule_events)
        return {name: rule_pattern(self.logical_id, name, refs) for name in names}

    def environment(
        self,
        refs: dict[str, str],
        overrides: dict[str, str] | None = None,
        *,
        attributes: dict[str, str] | None = None,
        conditions: dict[str, bool] | None = None,
    ) -> dict[str, str]:
        """Globals' and the function's own environment variables, Refs (and, given `attributes` and
        `conditions`, Fn::GetAtt, Fn::Sub and Fn::If) resolved.

        `overrides` replace variables whose AWS value makes no sense here (CodeCommit's HTTPS URL
        becomes the sandbox's bare repository); they must name variables the template sets.
        """
        template = load_template()
        variables: dict[str, Any] = {}
        variables.update(
            template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        )
        own = template["Resources"][self.logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        variables.update(own)
        overrides = overrides or {}
        unknown = set(overrides) - set(variables)
        if unknown:
            raise TemplateError(f"{self.logical_id} sets no {', '.join(sorted(unknown))} in template.yaml")
        kept = {key: value for key, value in variables.items() if key not in overrides}
        resolved = resolve(kept, refs, attributes=attributes, conditions=conditions)
        return {**{key: str(value) for key, value in resolved.items()}, **overrides}


FUNCTIONS = (
    SandboxFunction(name="recorder", logical_id="RecorderFunction", rule_event="PipelineStateChange"),
    # Hourly in AWS; every minute here, so a checkpoint follows a change soon, while an idle sandbox stays
    # idle: every 10 s in three envs it was most of what an idle sandbox did (docs/benchmarks.md).
    SandboxFunction(name="checkpointer", logical_id="CheckpointerFunction", every_seconds=60),
    # Every ReconcileMinutes in AWS (5 by default); every 30 s here (`local up --reconcile-every`), so a
    # lost event's hole closes within a demo's patience.
    SandboxFunction(
        name="reconciler",
        logical_id="ReconcilerFunction",
        every_seconds=30,
        every_setting="reconcile_seconds",
    ),
    SandboxFunction(
        name="rollback",
        logical_id="RollbackFunction",
        rule_event="DeploymentOutcome",
        more_rule_events=("BakeAlarm",),  # DISABLED, so not created, in an env without a bake watch
    ),
    SandboxFunction(
        name="approvals",
        logical_id="ApprovalsFunction",
        rule_event="UpstreamSucceeded",
        more_rule_events=("OwnRequests",),
        downstream_only=True,
    ),
    SandboxFunction(
        name="promoter",
        logical_id="PromoterFunction",
        rule_event="PromotionApproved",
        every_seconds=15,
        downstream_only=True,
    ),
    SandboxFunction(
        name="approval_page", logical_id="ApprovalPageFunction", downstream_only=True, function_url=True
    ),
    SandboxFunction(name="gate", logical_id="GateFunction", downstream_only=True, pipeline_rule=True),
)

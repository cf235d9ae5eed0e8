"""Where each environment's stack lives: the one place the CLI learns how to reach an account.

Against deployed stacks the targets come from a TOML file (first found of: --config, $PATH2PROD_CONFIG,
./path2prod.toml, ~/.config/path2prod/config.toml):

    [envs.prd]
    region = "eu-west-1"
    profile = "team-prd"                                      # optional: an AWS CLI profile
    role_arn = "arn:aws:iam::333333333333:role/auditor"       # optional: a role to assume
    ledger_table = "path2prod-prd-LedgerTable-ABC"            # or: stack = "path2prod-prd"
    checkpoint_bucket = "path2prod-prd-checkpointbucket-xyz"  # optional (else the stack's output)
    repository_url = "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/app"  # for `rollback`
    alerts_topic_arn = "arn:aws:sns:eu-west-1:333333333333:path2prod-alerts"           # for `rollback`
    dead_letter_queue_url = "https://sqs.eu-west-1.amazonaws.com/333333333333/path2prod-prd-dlq"  # `dlq`
    endpoint_url = "http://localhost:4566"                    # optional: an AWS emulator instead

checkpoint_bucket, repository_url, alerts_topic_arn and dead_letter_queue_url may be left out when `stack`
is given: each is read from the stack's output (CheckpointBucketName, RepositoryCloneUrlHttp,
AlertsTopicArn, RecorderDeadLetterQueueUrl). Against the local sandbox (--home DIR) they come from the
sandbox itself.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from path2prod import ENVS
from path2prod.domain.errors import UnknownEnvironment
from path2prod.errors import TargetNotConfigured

if TYPE_CHECKING:
    import boto3


@dataclass(frozen=True)
class EnvTarget:
    """How to reach one environment's account and its ledger."""

    env: str
    region: str
    ledger_table: str | None = None
    stack: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    endpoint_url: str | None = None  # set for the sandbox's emulated AWS
    checkpoint_bucket: str | None = None
    repository_url: str | None = None
    alerts_topic_arn: str | None = None
    pipeline: str | None = None
    dead_letter_queue_url: str | None = None

    def session(self) -> boto3.Session:
        """A boto3 session acting in this env's account (assuming role_arn when given)."""
        import boto3

        if self.endpoint_url:
            # The sandbox's emulated AWS takes any credentials; the role picks the account.
            base = boto3.Session(
                aws_access_key_id="sandbox",
                aws_secret_access_key="sandbox",  # noqa: S106 - moto accepts any secret
                region_name=self.region,
            )
        else:
            base = boto3.Session(profile_name=self.profile, region_name=self.region)
        if not self.role_arn:
            return base
        sts = base.client("sts", endpoint_url=self.endpoint_url)
        credentials = sts.assume_role(RoleArn=self.role_arn, RoleSessionName="path2prod-cli")["Credentials"]
        return boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self.region,
        )

    def client(self, service: str, session: boto3.Session | None = None) -> Any:
        return (session or self.session()).client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def ledger_table_name(self, session: boto3.Session | None = None) -> str:
        """The ledger table: named in the config, or read from the stack's LedgerTableName output."""
        if self.ledger_table:
            return self.ledger_table
        if not self.stack:
            raise TargetNotConfigured(f"env {self.env!r} needs ledger_table or stack in the path2prod config")
        table = self._stack_output("LedgerTableName", session)
        if table is None:
            raise TargetNotConfigured(f"stack {self.stack!r} has no LedgerTableName output")
        return table

    def checkpoint_bucket_name(self, session: boto3.Session | None = None) -> str | None:
        """The bucket of chain-head checkpoints, when configured or output by the stack."""
        if self.checkpoint_bucket or not self.stack:
            return self.checkpoint_bucket
        return self._stack_output("CheckpointBucketName", session)

    def setting(self, name: str, stack_output: str, session: boto3.Session | None = None) -> str:
        """A value configured for this env, else the stack's output of that name; or TargetNotConfigured."""
        value = getattr(self, name) or (self._stack_output(stack_output, session) if self.stack else None)
        if not value:
            raise TargetNotConfigured(
                f"env {self.env!r} needs {name} in the path2prod config (or a stack output {stack_output})"
            )
        return str(value)

    def function_name(self, logical_id: str, session: boto3.Session | None = None) -> str | None:
        """The physical name of one of the stack's functions (its logical id in template.yaml), when a
        stack is configured."""
        if not self.stack:
            return None
        resource = self.client("cloudformation", session).describe_stack_resource(
            StackName=self.stack, LogicalResourceId=logical_id
        )["StackResourceDetail"]
        return str(resource["PhysicalResourceId"])

    def _stack_output(self, key: str, session: boto3.Session | None) -> str | None:
        stacks = self.client("cloudformation", session).describe_stacks(StackName=self.stack)["Stacks"]
        for output in stacks[0].get("Outputs", []):
            if output["OutputKey"] == key:
                return str(output["OutputValue"])
        return None


def check_env(env: str) -> str:
    """Return env if it names an environment, else raise UnknownEnvironment."""
    if env not in ENVS:
        raise UnknownEnvironment(f"unknown environment {env!r} (expected one of: {', '.join(ENVS)})")
    return env


def config_path(explicit: str | None = None) -> Path | None:
    candidates = [
        explicit,
        os.environ.get("PATH2PROD_CONFIG"),
        "path2prod.toml",
        "~/.config/path2prod/config.toml",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).expanduser().is_file():
            return Path(candidate).expanduser()
    if explicit:
        raise TargetNotConfigured(f"config file {explicit} does not exist")
    return None


def aws_target(env: str, config_file: str | None = None) -> EnvTarget:
    """The deployed-stack target of env, from the path2prod config file."""
    check_env(env)
    path = config_path(config_file)
    if path is None:
        raise TargetNotConfigured(
            "no path2prod config found (path2prod.toml or ~/.config/path2prod/config.toml); "
            "see README 'Using the CLI against your accounts', or pass --home DIR for the local sandbox"
        )
    try:
        document = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise TargetNotConfigured(f"{path}: {error}") from error
    section = document.get("envs", {}).get(env)
    if not isinstance(section, dict):
        raise TargetNotConfigured(f"{path} has no [envs.{env}] section")
    region = section.get("region")
    if not region:
        raise TargetNotConfigured(f"{path}: [envs.{env}] needs a region")
    return EnvTarget(
        env=env,
        region=region,
        ledger_table=section.get("ledger_table"),
        stack=section.get("stack"),
        profile=section.get("profile"),
        role_arn=section.get("role_arn"),
        endpoint_url=section.get("endpoint_url"),
        checkpoint_bucket=section.get("checkpoint_bucket"),
        repository_url=section.get("repository_url"),
        alerts_topic_arn=section.get("alerts_topic_arn"),
        pipeline=section.get("pipeline"),
        dead_letter_queue_url=section.get("dead_letter_queue_url"),
    )

"""The sandbox's three emulated accounts: the clients and credentials a process acting in one gets."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from path2prod.sandbox.functions import SandboxFunction
from path2prod.sandbox.home import SANDBOX_ROLE, SandboxConfig, sandbox_credentials_env
from path2prod.sandbox.roles import OPERATOR_POLICY, operator_trust_policy


class Account:
    """One emulated account: its root (the sandbox's bootstrap key, as CloudFormation acts for a stack)
    creates the operator role the sandbox provisions with, and the roles each function runs under."""

    def __init__(self, env: str, account_id: str, config: SandboxConfig, endpoint: str) -> None:
        self.env, self.account_id, self.region, self.endpoint = env, account_id, config.region, endpoint
        iam = self.root_client("iam")
        iam.create_role(RoleName=SANDBOX_ROLE, AssumeRolePolicyDocument=operator_trust_policy(account_id))
        iam.put_role_policy(
            RoleName=SANDBOX_ROLE, PolicyName="sandbox-operator", PolicyDocument=json.dumps(OPERATOR_POLICY)
        )
        self.credentials = self.assume(SANDBOX_ROLE, "sandbox")

    def root_client(self, service: str) -> Any:
        """A client acting as this account's root: signed with a bootstrap key, which moto lets through."""
        client = boto3.client(
            service, endpoint_url=self.endpoint, region_name=self.region, **_dummy_credentials()
        )  # type: ignore[call-overload]

        def in_this_account(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = self.account_id

        client.meta.events.register("before-sign.*.*", in_this_account)
        return client

    def assume(self, role_name: str, session: str) -> dict[str, Any]:
        """Credentials of one of this account's roles. Assumed by the root, as Lambda's service assumes
        a function's role (moto cannot evaluate a trust policy that names a service principal)."""
        credentials: dict[str, Any] = self.root_client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{self.account_id}:role/{role_name}",
            RoleSessionName=session[:64],
            DurationSeconds=43200,
        )["Credentials"]
        return credentials

    def client(self, service: str) -> Any:
        """A client acting as the sandbox's operator in this account."""
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.credentials["AccessKeyId"],
            aws_secret_access_key=self.credentials["SecretAccessKey"],
            aws_session_token=self.credentials["SessionToken"],
        )

    def aws_environment(self, credentials: dict[str, Any] | None = None) -> dict[str, str]:
        """The AWS_* variables of a process acting in this account: the sandbox's endpoint, region and
        the given credentials (default: the operator's). Nothing of the caller's AWS set-up: no
        profile, no config or credentials file, no instance metadata."""
        credentials = credentials or self.credentials
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }


def without_aws_settings(environment: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The environment minus every AWS_* variable: the caller's profile and keys stay out."""
    return {key: value for key, value in environment.items() if not key.startswith("AWS_")}


def function_role_name(env: str, function: SandboxFunction) -> str:
    """The role env's stack gives `function` (and the name its runtime runs under)."""
    return f"path2prod-{env}-{function.name}"


def _dummy_credentials() -> dict[str, str]:
    creds = sandbox_credentials_env()
    return {
        "aws_access_key_id": creds["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": creds["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": creds["AWS_SESSION_TOKEN"],
    }

"""The IAM of the sandbox's accounts, read from template.yaml: what each role may do, as in AWS.

Each function gets its own role in its env's account with the statements of its `Policies` in the
template, intrinsic functions resolved to the sandbox's names and ARNs; the sandbox itself acts through
an operator role allowed everything (CloudFormation's part). moto's IAM access control (on, see
emulator.enforce_iam) then refuses a call the template does not allow, as IAM would.
"""

from __future__ import annotations

import json
from typing import Any

from path2prod.sandbox.errors import TemplateError
from path2prod.sandbox.template import load_template, resolve

# Keys the sandbox signs its own bootstrap calls with (home.sandbox_credentials_env, targets.py): they
# act as each account's root, which moto does not have, to create roles and assume them.
BOOTSTRAP_ACCESS_KEYS = frozenset({"testing", "sandbox"})

OPERATOR_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "SandboxOperator", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}

# moto authorises some calls under another action name than IAM does (docs/sandbox-vs-aws.md): a
# TransactWriteItems of Puts needs dynamodb:PutItem in AWS, moto asks dynamodb:TransactWriteItems.
# Each statement that grants the IAM action also grants moto's name for it, so the template stays
# the only source of permissions: remove PutItem and the transaction is refused too.
MOTO_ACTION_ALIASES = {
    "dynamodb:PutItem": ("dynamodb:TransactWriteItems",),
    "dynamodb:ConditionCheckItem": ("dynamodb:TransactWriteItems",),
    "dynamodb:GetItem": ("dynamodb:TransactGetItems",),
    # moto names CloudWatch's actions by its endpoint prefix, `monitoring`.
    "cloudwatch:DescribeAlarms": ("monitoring:DescribeAlarms",),
}

_ARN_FORMATS = {
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::Serverless::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::CodeCommit::Repository": "arn:aws:codecommit:{region}:{account}:{name}",
    "AWS::CodeBuild::Project": "arn:aws:codebuild:{region}:{account}:project/{name}",
    "AWS::Events::EventBus": "arn:aws:events:{region}:{account}:event-bus/{name}",
    "AWS::Events::Rule": "arn:aws:events:{region}:{account}:rule/{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}",
    "AWS::SecretsManager::Secret": "arn:aws:secretsmanager:{region}:{account}:secret:{name}",
}


def _generic_arn_format(kind: str) -> str:
    """An ARN shape for a resource type the sandbox does not create (a KMS key, an alarm...)."""
    _, service, resource = [*kind.split("::"), "", "", ""][:3]
    return f"arn:aws:{service.lower()}:{{region}}:{{account}}:{resource.lower()}/{{name}}"


class StackNames:
    """What the template's names resolve to in one env's sandbox account: `parameters` for `Ref` and
    `${Name}`, `attributes` for `Fn::GetAtt`, `conditions` for `Fn::If`.

    `physical` gives the sandbox's own name (or, for topics, queues and secrets, the Ref value AWS
    gives: ARN or URL) of the resources it creates; any other resource gets a made-up name, enough
    to build the ARNs a policy names.
    """

    def __init__(
        self, *, env: str, account: str, region: str, parameters: dict[str, str], physical: dict[str, str]
    ) -> None:
        template = load_template()
        self.env, self.account, self.region = env, account, region
        values = {
            name: str(spec["Default"])
            for name, spec in template.get("Parameters", {}).items()
            if "Default" in spec
        }
        values.update(parameters)
        values.update(
            {
                "AWS::AccountId": account,
                "AWS::Region": region,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackName": f"path2prod-{env}",
                "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/path2prod-{env}/sandbox",
            }
        )
        self.attributes: dict[str, str] = {}
        for logical_id, resource in template.get("Resources", {}).items():
            kind = resource.get("Type", "")
            name = self._name(logical_id, resource, values, physical)
            reference = physical.get(logical_id, name)
            if kind == "AWS::SQS::Queue" and logical_id not in physical:
                reference = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
            values.setdefault(logical_id, reference)
            arn_format = _ARN_FORMATS.get(kind) or _generic_arn_format(kind)
            arn = (
                reference
                if reference.startswith("arn:")
                else arn_format.format(region=region, account=account, name=name)
            )
            self.attributes[f"{logical_id}.Arn"] = arn
            self.attributes[f"{logical_id}.TopicArn"] = arn
            self.attributes[f"{logical_id}.Name"] = name
            self.attributes[f"{logical_id}.QueueName"] = name
        self.parameters = values
        self.conditions = self._conditions(template.get("Conditions", {}))

    def _name(
        self, logical_id: str, resource: dict[str, Any], values: dict[str, str], physical: dict[str, str]
    ) -> str:
        known = physical.get(logical_id)
        if known is not None:
            # Topics and secrets are known by ARN, queues by URL: their name is the last part.
            return known.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        properties = resource.get("Properties") or {}
        for key in (
            "RoleName",
            "TableName",
            "BucketName",
            "QueueName",
            "TopicName",
            "Name",
            "RepositoryName",
        ):
            if key in properties:
                try:
                    return str(resolve(properties[key], values))
                except TemplateError:
                    break
        return f"path2prod-{self.env}-{logical_id}"

    def _conditions(self, definitions: dict[str, Any]) -> dict[str, bool]:
        """The template's conditions, each resolved once those it names are known."""
        known: dict[str, bool] = {}
        pending = dict(definitions)
        while pending:
            progressed = False
            for name, definition in list(pending.items()):
                try:
                    known[name] = bool(
                        resolve(definition, self.parameters, attributes=self.attributes, conditions=known)
                    )
                except TemplateError:
                    continue
                del pending[name]
                progressed = True
            if not progressed:
                raise TemplateError(f"cannot evaluate the conditions {', '.join(sorted(pending))}")
        return known

    def resolve(self, fragment: Any) -> Any:
        return resolve(fragment, self.parameters, attributes=self.attributes, conditions=self.conditions)


def function_policy(logical_id: str, names: StackNames) -> dict[str, Any]:
    """The policy document of a function's role: its `Policies` statements, names resolved."""
    resource = load_template().get("Resources", {}).get(logical_id)
    if resource is None:
        raise TemplateError(f"template.yaml has no resource {logical_id}")
    statements: list[dict[str, Any]] = []
    for policy in names.resolve(resource.get("Properties", {}).get("Policies", [])):
        if not isinstance(policy, dict) or "Statement" not in policy:
            raise TemplateError(
                f"{logical_id}: the sandbox builds roles from inline `Statement` policies only, "
                f"not {policy!r}"
            )
        listed = policy["Statement"]
        statements.extend(listed if isinstance(listed, list) else [listed])
    return {"Version": "2012-10-17", "Statement": [with_moto_aliases(s) for s in statements]}


def with_moto_aliases(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement, also granting moto's action names for the IAM actions it grants."""
    actions = statement.get("Action")
    if actions is None:
        return statement
    listed = [actions] if isinstance(actions, str) else list(actions)
    extra = [
        alias for action in listed for alias in MOTO_ACTION_ALIASES.get(action, ()) if alias not in listed
    ]
    if not extra:
        return statement
    return {**statement, "Action": listed + sorted(set(extra))}


def role_definition(logical_id: str, names: StackNames) -> dict[str, Any] | None:
    """An AWS::IAM::Role of the template, resolved: its name, trust policy and inline policies; None
    when the template lacks it or its Condition is false in this env."""
    resource = load_template().get("Resources", {}).get(logical_id)
    if resource is None or resource.get("Type") != "AWS::IAM::Role":
        return None
    if "Condition" in resource and not names.conditions.get(resource["Condition"], False):
        return None
    properties = names.resolve(resource.get("Properties", {}))
    return {
        "RoleName": names.attributes[f"{logical_id}.Name"],
        "AssumeRolePolicyDocument": properties["AssumeRolePolicyDocument"],
        "Policies": {
            policy["PolicyName"]: {
                **policy["PolicyDocument"],
                "Statement": [with_moto_aliases(s) for s in _statements(policy["PolicyDocument"])],
            }
            for policy in properties.get("Policies", [])
        },
    }


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    listed = document.get("Statement", [])
    return listed if isinstance(listed, list) else [listed]


def lambda_trust_policy() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def operator_trust_policy(account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )

"""Reading template.yaml, so the sandbox and the tests use the stack's own definitions.

The table the sandbox creates and the rule patterns it subscribes with come from this file, never from
a copy: a change to the template changes the sandbox too.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from path2prod.domain.errors import Path2ProdError


class TemplateError(Path2ProdError):
    """template.yaml is missing or lacks what the sandbox needs."""


def project_root() -> Path:
    """The checkout holding template.yaml and functions/ (path2prod is installed from it, editable)."""
    root = Path(__file__).resolve().parents[4]
    if not (root / "template.yaml").is_file():
        raise TemplateError(
            f"template.yaml not found in {root}: the sandbox runs from a path2prod checkout "
            "(install it with `make venv`, which installs the package in editable mode)"
        )
    return root


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation short-form tags (!Ref X -> {"Ref": "X"})."""


def _cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


@cache
def load_template(path: Path | None = None) -> dict[str, Any]:
    """template.yaml as a dict, with intrinsic functions kept as {"Ref": ...} / {"Fn::...": ...}."""
    path = path or project_root() / "template.yaml"
    with path.open() as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return document


def resolve(value: Any, parameters: dict[str, str]) -> Any:
    """Resolve `Ref`s to the given parameters inside a template fragment; other intrinsics are refused
    (the sandbox states their value itself, as an override)."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            if value["Ref"] not in parameters:
                raise TemplateError(f"no value for parameter {value['Ref']!r}")
            return parameters[value["Ref"]]
        if len(value) == 1 and next(iter(value)).startswith("Fn::"):
            raise TemplateError(f"the sandbox cannot resolve {next(iter(value))} here: give an override")
        return {key: resolve(item, parameters) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, parameters) for item in value]
    return value


def table_definition(logical_id: str = "LedgerTable", *, table_name: str) -> dict[str, Any]:
    """CreateTable arguments for a table of the template (keys, indexes, billing) under `table_name`."""
    resource = _resource(logical_id, "AWS::DynamoDB::Table")
    properties = resource["Properties"]
    definition: dict[str, Any] = {"TableName": table_name}
    for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"):
        if key in properties:
            definition[key] = properties[key]
    return definition


def rule_pattern(function_id: str, event_id: str, parameters: dict[str, str]) -> dict[str, Any]:
    """The EventBridge pattern of a function's EventBridgeRule event, with Refs resolved."""
    function = _resource(function_id, "AWS::Serverless::Function")
    event = function["Properties"].get("Events", {}).get(event_id)
    if not event or event.get("Type") != "EventBridgeRule":
        raise TemplateError(f"{function_id} has no EventBridgeRule event {event_id!r}")
    pattern: dict[str, Any] = resolve(event["Properties"]["Pattern"], parameters)
    return pattern


def parameter_default(name: str) -> str:
    parameter = load_template().get("Parameters", {}).get(name)
    if parameter is None or "Default" not in parameter:
        raise TemplateError(f"template.yaml has no default for parameter {name!r}")
    return str(parameter["Default"])


def _resource(logical_id: str, resource_type: str) -> dict[str, Any]:
    resource = load_template().get("Resources", {}).get(logical_id)
    if resource is None or resource.get("Type") != resource_type:
        raise TemplateError(f"template.yaml has no {resource_type} named {logical_id}")
    return resource  # type: ignore[no-any-return]

"""Reading template.yaml, so the sandbox and the tests use the stack's own definitions.

The table the sandbox creates and the rule patterns it subscribes with come from this file, never from
a copy: a change to the template changes the sandbox too.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from path2prod.sandbox.errors import TemplateError

TEMPLATE_VARIABLE = "PATH2PROD_TEMPLATE"


def project_root() -> Path:
    """The checkout holding template.yaml and functions/: the folder of $PATH2PROD_TEMPLATE when set
    (`path2prod local up --template FILE`: a sandbox of an edited copy), else the checkout path2prod
    is installed from (editable)."""
    if override := os.environ.get(TEMPLATE_VARIABLE):
        template = Path(override).expanduser().resolve()
        if not template.is_file():
            raise TemplateError(f"{TEMPLATE_VARIABLE}={override}: no such template file")
        return template.parent
    root = Path(__file__).resolve().parents[4]
    if not (root / "template.yaml").is_file():
        raise TemplateError(
            f"template.yaml not found in {root}: the sandbox runs from a path2prod checkout "
            "(install it with `make venv`, which installs the package in editable mode)"
        )
    return root


def template_path() -> Path:
    """The template the sandbox builds its accounts from."""
    if override := os.environ.get(TEMPLATE_VARIABLE):
        return project_root() / Path(override).name
    return project_root() / "template.yaml"


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
    path = path or template_path()
    with path.open() as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return document


NO_VALUE = object()  # AWS::NoValue: the property (or list item) is left out


def resolve(
    value: Any,
    parameters: dict[str, str],
    *,
    attributes: dict[str, str] | None = None,
    conditions: dict[str, bool] | None = None,
    mappings: dict[str, Any] | None = None,
) -> Any:
    """Resolve the intrinsic functions of a template fragment, as CloudFormation would in the sandbox.

    `parameters` holds what `Ref`s (and `${Name}` in `Fn::Sub`) give: parameters, pseudo parameters
    (AWS::AccountId, ...) and resources' physical ids; `attributes` what `Fn::GetAtt X.Attr` (and
    `${X.Attr}`) gives, keyed "X.Attr"; `conditions` the template's conditions, for `Fn::If`;
    `mappings` for `Fn::FindInMap` (default: template.yaml's). Also Fn::Join, Fn::Select, Fn::Split,
    Fn::Equals, Fn::Not, Fn::And, Fn::Or. Anything else, or a
    name without a value, is a TemplateError: the sandbox then states the value itself (an override).
    """
    resolver = _Resolver(parameters, attributes or {}, conditions or {}, mappings)
    return resolver.value(value)


class _Resolver:
    def __init__(
        self,
        parameters: dict[str, str],
        attributes: dict[str, str],
        conditions: dict[str, bool],
        mappings: dict[str, Any] | None,
    ) -> None:
        self.parameters, self.attributes, self.conditions = parameters, attributes, conditions
        self.mappings = mappings

    def value(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.value(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self.intrinsic(key, argument)
        resolved = {key: self.value(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name not in self.parameters:
            raise TemplateError(f"no value for {name!r} in the sandbox")
        value = self.parameters[name]
        if isinstance(value, str) and _is_list_parameter(name):
            # A CommaDelimitedList's Ref is a list (an event pattern's values); empty gives [""], as
            # CloudFormation does.
            return value.split(",")
        return value

    def attribute(self, name: str) -> str:
        if name not in self.attributes:
            raise TemplateError(f"no value for {name!r} (Fn::GetAtt) in the sandbox")
        return self.attributes[name]

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise TemplateError(f"no value for condition {name!r} in the sandbox")
        return self.conditions[name]

    def intrinsic(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self.ref(argument)
        if name in ("Condition", "Fn::Condition"):  # the YAML tag !Condition reads as Fn::Condition
            return self.condition(argument)
        if name == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.attribute(f"{logical_id}.{attribute}")
        if name == "Fn::Sub":
            return self.sub(argument)
        if name == "Fn::If":
            condition, if_true, if_false = argument
            return self.value(if_true if self.condition(condition) else if_false)
        if name == "Fn::FindInMap":
            mappings = self.mappings if self.mappings is not None else load_template().get("Mappings", {})
            keys = [str(self.value(key)) for key in argument]
            try:
                return mappings[keys[0]][keys[1]][keys[2]]
            except (KeyError, IndexError):
                raise TemplateError(
                    f"Fn::FindInMap {keys}: no such entry in the template's Mappings"
                ) from None
        if name == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(item) for item in self._list(items))
        if name == "Fn::Select":
            index, items = argument
            return self._list(items)[int(self.value(index))]
        if name == "Fn::Split":
            separator, text = argument
            return str(self.value(text)).split(separator)
        if name == "Fn::Equals":
            left, right = (self.value(item) for item in argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self.value(argument[0])
        if name == "Fn::And":
            return all(self.value(item) for item in argument)
        if name == "Fn::Or":
            return any(self.value(item) for item in argument)
        raise TemplateError(f"the sandbox cannot resolve {name} here: give an override")

    def _list(self, items: Any) -> list[Any]:
        resolved = self.value(items)
        if isinstance(resolved, str):  # a CommaDelimitedList parameter's Ref
            return resolved.split(",") if resolved else []
        if not isinstance(resolved, list):
            raise TemplateError(f"expected a list, got {resolved!r}")
        return resolved

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        local = {name: self.value(item) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} stays ${Literal}
                return "${" + name[1:] + "}"
            if name in local:
                return str(local[name])
            if "." in name and not name.startswith("AWS::"):
                return self.attribute(name)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def _is_list_parameter(name: str) -> bool:
    return bool(load_template().get("Parameters", {}).get(name, {}).get("Type") == "CommaDelimitedList")


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


def rule_state(function_id: str, event_id: str, resolve_names: Any) -> str:
    """ENABLED or DISABLED: the State of a function's EventBridgeRule event, resolved by `resolve_names`
    (a StackNames' resolve: the State may depend on a condition)."""
    function = _resource(function_id, "AWS::Serverless::Function")
    event = function["Properties"].get("Events", {}).get(event_id) or {}
    return str(resolve_names(event.get("Properties", {}).get("State", "ENABLED")))


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

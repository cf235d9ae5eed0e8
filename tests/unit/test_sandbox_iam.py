"""The sandbox builds its IAM from template.yaml: intrinsic functions resolved, policies per function,
and bus policies evaluated as EventBridge would."""

from __future__ import annotations

import json

import pytest

from path2prod.sandbox.bus_policies import bus_policy_allows
from path2prod.sandbox.errors import TemplateError
from path2prod.sandbox.roles import StackNames, function_policy, role_definition, with_moto_aliases
from path2prod.sandbox.template import resolve, rule_pattern, rule_state

PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "222222222222",
    "Env": "stg",
}
ATTRIBUTES = {"LedgerTable.Arn": "arn:aws:dynamodb:us-east-1:222222222222:table/ledger"}


def test_sub_resolves_pseudo_parameters_parameters_and_attributes() -> None:
    # GIVEN
    fragment = {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${Env}-x"}
    index = {"Fn::Sub": "${LedgerTable.Arn}/index/*"}

    # WHEN / THEN
    assert resolve(fragment, PARAMETERS) == "arn:aws:events:us-east-1:222222222222:rule/stg-x"
    assert resolve(index, PARAMETERS, attributes=ATTRIBUTES).endswith(":table/ledger/index/*")


def test_sub_with_variables_and_a_literal() -> None:
    # GIVEN
    fragment = {"Fn::Sub": ["role/${Upstream}-${!Literal}", {"Upstream": {"Ref": "Env"}}]}

    # WHEN / THEN
    assert resolve(fragment, PARAMETERS) == "role/stg-${Literal}"


def test_getatt_in_both_forms() -> None:
    # WHEN / THEN
    assert (
        resolve({"Fn::GetAtt": ["LedgerTable", "Arn"]}, {}, attributes=ATTRIBUTES)
        == ATTRIBUTES["LedgerTable.Arn"]
    )
    assert (
        resolve({"Fn::GetAtt": "LedgerTable.Arn"}, {}, attributes=ATTRIBUTES) == ATTRIBUTES["LedgerTable.Arn"]
    )


def test_if_condition_and_no_value() -> None:
    # GIVEN
    fragment = [
        {"Fn::If": ["On", "yes", "no"]},
        {"Fn::If": ["Off", "dropped", {"Ref": "AWS::NoValue"}]},
        {"Fn::And": [{"Fn::Condition": "On"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "Env"}, "dev"]}]}]},
    ]

    # WHEN
    resolved = resolve(fragment, PARAMETERS, conditions={"On": True, "Off": False})

    # THEN
    assert resolved == ["yes", True]


def test_join_select_split_and_find_in_map() -> None:
    # GIVEN
    mappings = {"Path": {"stg": {"Previous": "dev"}}}

    # WHEN / THEN
    assert resolve({"Fn::Join": [",", ["a", {"Ref": "Env"}]]}, PARAMETERS) == "a,stg"
    assert resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, {}) == "b"
    assert (
        resolve({"Fn::FindInMap": ["Path", {"Ref": "Env"}, "Previous"]}, PARAMETERS, mappings=mappings)
        == "dev"
    )


def test_unknown_names_and_functions_are_template_errors() -> None:
    # WHEN / THEN
    with pytest.raises(TemplateError, match="Nope"):
        resolve({"Ref": "Nope"}, {})
    with pytest.raises(TemplateError, match=r"Nope\.Arn"):
        resolve({"Fn::Sub": "${Nope.Arn}"}, {})
    with pytest.raises(TemplateError, match="Fn::GetAZs"):
        resolve({"Fn::GetAZs": ""}, {})


def _stg_names() -> StackNames:
    return StackNames(
        env="stg",
        account="222222222222",
        region="us-east-1",
        parameters={
            "Environment": "stg",
            "PreviousAccountId": "111111111111",
            "NextAccountId": "333333333333",
            "Approvers": "a@example.com",
        },
        physical={
            "LedgerTable": "path2prod-stg-ledger",
            "AlertsTopic": "arn:aws:sns:us-east-1:222222222222:path2prod-alerts",
            "ApprovalsTopic": "arn:aws:sns:us-east-1:222222222222:path2prod-approvals",
            "ApprovalSigningSecret": "arn:aws:secretsmanager:us-east-1:222222222222:secret:key-AbCdEf",
        },
    )


def test_the_recorders_role_holds_the_templates_statements_with_sandbox_arns() -> None:
    # WHEN
    policy = function_policy("RecorderFunction", _stg_names())

    # THEN
    ledger = next(s for s in policy["Statement"] if s.get("Sid") == "AppendAndReadLedger")
    assert ledger["Resource"] == "arn:aws:dynamodb:us-east-1:222222222222:table/path2prod-stg-ledger"
    assert "dynamodb:PutItem" in ledger["Action"]
    assert "dynamodb:TransactWriteItems" in ledger["Action"], "moto's name for a transaction of Puts"
    assert "*" not in json.dumps([s["Action"] for s in policy["Statement"]])


def test_the_promoter_may_assume_the_upstream_promotion_source_role_that_the_sandbox_creates() -> None:
    # GIVEN
    names = _stg_names()
    dev_names = StackNames(
        env="dev",
        account="111111111111",
        region="us-east-1",
        parameters={"Environment": "dev", "NextAccountId": "222222222222"},
        physical={"LedgerTable": "path2prod-dev-ledger"},
    )

    # WHEN
    assume = [
        s for s in function_policy("PromoterFunction", names)["Statement"] if "sts:AssumeRole" in s["Action"]
    ]
    source = role_definition("PromotionSourceRole", dev_names)

    # THEN
    assert source is not None
    assert [s["Resource"] for s in assume] == [f"arn:aws:iam::111111111111:role/{source['RoleName']}"]


def test_moto_aliases_follow_the_iam_action_and_leave_others_alone() -> None:
    # WHEN / THEN
    assert "dynamodb:TransactWriteItems" not in with_moto_aliases({"Action": ["dynamodb:GetItem"]})["Action"]
    assert with_moto_aliases({"Action": "sns:Publish"}) == {"Action": "sns:Publish"}


FORWARD_ROLE = "arn:aws:iam::111111111111:role/path2prod-dev-forward-succeeded"
BUS_POLICY = json.dumps(
    {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": FORWARD_ROLE},
                "Action": "events:PutEvents",
                "Condition": {
                    "StringEquals": {
                        "events:source": "path2prod",
                        "events:detail-type": "Deployment Succeeded",
                    }
                },
            }
        ]
    }
)


@pytest.mark.parametrize(
    ("principal", "detail_type", "allowed"),
    [
        (FORWARD_ROLE, "Deployment Succeeded", True),
        (FORWARD_ROLE, "Deployment Failed", False),
        ("arn:aws:iam::111111111111:role/someone-else", "Deployment Succeeded", False),
        ("arn:aws:iam::111111111111:root", "Deployment Succeeded", False),
    ],
)
def test_bus_policy_lets_only_the_forwarding_role_put_successes(
    principal: str, detail_type: str, allowed: bool
) -> None:
    # GIVEN
    event = {"source": "path2prod", "detail-type": detail_type}

    # WHEN / THEN
    assert bus_policy_allows(BUS_POLICY, principal=principal, sender="111111111111", event=event) is allowed


def test_a_bus_without_policy_takes_nothing_from_other_accounts() -> None:
    # WHEN / THEN
    event = {"source": "path2prod", "detail-type": "Deployment Succeeded"}
    assert bus_policy_allows(None, principal=FORWARD_ROLE, sender="111111111111", event=event) is False


def _prd_names(alarms: str, minutes: str = "15") -> StackNames:
    return StackNames(
        env="prd",
        account="333333333333",
        region="us-east-1",
        parameters={"Environment": "prd", "BakeMinutes": minutes, "BakeAlarmNames": alarms},
        physical={"LedgerTable": "path2prod-prd-ledger"},
    )


def test_the_rollback_function_may_describe_its_bake_alarms_and_no_other() -> None:
    # GIVEN prd watched by two alarms, and prd with no alarm named or no bake time
    # WHEN the rollback function's policy is built from the template
    def described(names: StackNames) -> list[str]:
        statements = function_policy("RollbackFunction", names)["Statement"]
        return [r for s in statements if "cloudwatch:DescribeAlarms" in s["Action"] for r in s["Resource"]]

    # THEN it names exactly those alarms' ARNs (up to five are picked out of the list one by one)
    arn = "arn:aws:cloudwatch:us-east-1:333333333333:alarm:"
    assert described(_prd_names("app-errors,latency")) == [f"{arn}app-errors", f"{arn}latency"]
    assert described(_prd_names("a,b,c,d,e")) == [f"{arn}{name}" for name in "abcde"]
    assert described(_prd_names("")) == []
    assert described(_prd_names("app-errors", minutes="0")) == []


def test_the_bake_alarm_rule_is_disabled_without_a_bake_watch_and_names_the_alarms() -> None:
    # GIVEN prd watched by app-errors, and prd with no alarm named
    watched, unwatched = _prd_names("app-errors"), _prd_names("")

    # WHEN the rollback function's BakeAlarm event is read
    # THEN its rule is enabled only with a watch, and its pattern lists the alarm names
    assert rule_state("RollbackFunction", "BakeAlarm", watched.resolve) == "ENABLED"
    assert rule_state("RollbackFunction", "BakeAlarm", unwatched.resolve) == "DISABLED"
    pattern = rule_pattern("RollbackFunction", "BakeAlarm", watched.parameters)
    assert pattern["detail"] == {"alarmName": ["app-errors"], "state": {"value": ["ALARM"]}}
    assert pattern["account"] == ["333333333333"]

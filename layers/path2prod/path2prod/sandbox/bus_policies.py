"""Events between accounts, as EventBridge delivers them: moto forwards an event to another account's
bus whatever that bus's policy says, and re-stamps it with the receiving account. Here a rule's target
in another account receives the event only when that bus's policy allows the target's role (or the
sending account) to put it, conditions on `events:source` / `events:detail-type` included, and the
event keeps its account, time and resources."""

from __future__ import annotations

import copy
import fnmatch
import json
import logging
from typing import Any

from moto.events.models import Rule, events_backends

log = logging.getLogger("path2prod.sandbox.emulator")


def enforce_bus_policies() -> None:
    """Deliver to other accounts' buses only what their policy allows, keeping the event's account."""
    original = Rule.send_to_targets
    if getattr(original, "enforces_bus_policies", False):
        return

    def send_to_targets(self: Any, event: Any, transform_input: bool = True) -> None:
        buses = [target for target in self.targets if _other_account_bus(self, target["Arn"])]
        if not buses:
            original(self, event, transform_input)
            return
        if not self.event_pattern.matches_event(event):
            return
        for target in buses:
            _forward(self, target, event)
        if len(buses) < len(self.targets):
            rest = copy.copy(self)
            rest.targets = [target for target in self.targets if target not in buses]
            original(rest, event, transform_input)

    send_to_targets.enforces_bus_policies = True  # type: ignore[attr-defined]
    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]


def _other_account_bus(rule: Any, arn: str) -> bool:
    parts = arn.split(":", 5)
    return (
        len(parts) == 6
        and parts[2] == "events"
        and parts[5].startswith("event-bus/")
        and parts[4] != rule.account_id
    )


def _forward(rule: Any, target: dict[str, Any], event: Any) -> None:
    _, _, _, region, account, resource = target["Arn"].split(":", 5)
    bus = events_backends[account][region].describe_event_bus(resource.split("/", 1)[1])
    principal = target.get("RoleArn") or f"arn:aws:iam::{rule.account_id}:root"
    if not bus_policy_allows(bus.policy, principal=principal, sender=rule.account_id, event=event):
        log.warning(
            "%s's bus policy refuses %s from %s (rule %s): not delivered",
            account,
            event["detail-type"],
            principal,
            rule.name,
        )
        return
    for receiving_rule in list(bus.rules.values()):
        receiving_rule.send_to_targets(copy.deepcopy(event))


def bus_policy_allows(policy: str | None, *, principal: str, sender: str, event: dict[str, Any]) -> bool:
    """Whether an event bus policy lets `principal` (of account `sender`) put `event` on the bus.

    Evaluates what path2prod's template uses: Allow/Deny, `events:PutEvents`, AWS principals (an
    account id, its root, or a role ARN) and StringEquals / StringLike on events:source,
    events:detail-type, aws:PrincipalAccount and aws:PrincipalArn. Any other condition does not match.
    """
    if not policy:
        return False
    context = {
        "events:source": event.get("source"),
        "events:detail-type": event.get("detail-type"),
        "aws:PrincipalAccount": sender,
        "aws:PrincipalArn": principal,
    }
    allowed = False
    statements = json.loads(policy).get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(fnmatch.fnmatchcase("events:PutEvents", action) for action in actions):
            continue
        if not _principal_matches(statement.get("Principal"), principal, sender):
            continue
        if not _conditions_match(statement.get("Condition") or {}, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def _principal_matches(expected: Any, principal: str, sender: str) -> bool:
    if expected == "*":
        return True
    listed = expected.get("AWS", []) if isinstance(expected, dict) else []
    listed = [listed] if isinstance(listed, str) else listed
    return any(item in ("*", sender, f"arn:aws:iam::{sender}:root", principal) for item in listed)


def _conditions_match(conditions: dict[str, Any], context: dict[str, Any]) -> bool:
    for operator, pairs in conditions.items():
        if operator not in ("StringEquals", "StringLike"):
            return False
        for key, expected in pairs.items():
            if key not in context:
                return False
            values = [expected] if isinstance(expected, str) else expected
            actual = str(context[key])
            if operator == "StringEquals" and actual not in values:
                return False
            if operator == "StringLike" and not any(fnmatch.fnmatchcase(actual, value) for value in values):
                return False
    return True

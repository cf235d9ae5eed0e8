"""The sandbox's bake watch settings: `local up --bake/--alarm` checked as the template's parameters are,
kept in sandbox.json, and the CloudWatch event `local alarm` puts in the shape AWS documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from path2prod.cli.main import cli
from path2prod.domain.bake import parse_alarm_state_change
from path2prod.sandbox.alarms import state_change_event
from path2prod.sandbox.home import SandboxHome


@pytest.mark.parametrize(
    "arguments",
    [
        ["--bake", "prd=soon"],
        ["--bake", "dev=15"],  # dev has no upstream: no bake watch
        ["--alarm", "prd="],
        ["--alarm", "prd=a,b,c,d,e,f"],  # template.yaml's AtMostFiveBakeAlarms
        ["--alarm", "prd=" + "x" * 256],
    ],
    ids=["not-minutes", "dev", "no-name", "six-names", "name-too-long"],
)
def test_a_bad_bake_watch_is_refused_before_anything_starts(tmp_path: Path, arguments: list[str]) -> None:
    # GIVEN no sandbox yet
    # WHEN `local up` is given a bake time or alarm list the stack would refuse
    result = CliRunner().invoke(cli, ["local", "up", "--home", str(tmp_path / "sandbox"), *arguments])

    # THEN one usage error (exit 2), and no sandbox was created
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "sandbox" / "sandbox.json").exists()


def test_the_bake_watch_is_kept_and_an_older_sandbox_gets_the_defaults(tmp_path: Path) -> None:
    # GIVEN a sandbox.json written before the bake watch existed
    home = SandboxHome(tmp_path)
    home.create_config()
    old = json.loads(home.config_file.read_text())
    del old["bake_minutes"], old["bake_alarms"]
    home.config_file.write_text(json.dumps(old))

    # WHEN it is read, and then prd's watch is changed as `local up --bake prd=30 --alarm prd=a,b` does
    defaults = home.load_config()
    changed = home.create_config(bake_minutes={"prd": 30}, bake_alarms={"prd": ["a", "b"]})

    # THEN prd bakes 15 minutes watched by app-errors (stg 0), and the change is kept for prd alone
    assert (defaults.bake_minutes, defaults.bake_alarms) == (
        {"stg": 0, "prd": 15},
        {"stg": ["app-errors"], "prd": ["app-errors"]},
    )
    assert (changed.bake_minutes["prd"], changed.bake_alarms["prd"]) == (30, ["a", "b"])
    assert (home.load_config().bake_minutes["stg"], home.load_config().bake_alarms["stg"]) == (
        0,
        ["app-errors"],
    )


def test_the_event_local_alarm_puts_is_one_the_rollback_function_parses() -> None:
    # GIVEN DescribeAlarms' view of prd's alarm before and after it was set to ALARM
    arn = "arn:aws:cloudwatch:us-east-1:333333333333:alarm:app-errors"
    before = {
        "AlarmName": "app-errors",
        "AlarmArn": arn,
        "StateValue": "OK",
        "StateReason": "Unchecked: Initial alarm creation",
        "StateUpdatedTimestamp": datetime(2026, 11, 3, 9, 0, tzinfo=UTC),
    }
    after = {**before, "StateValue": "ALARM", "StateReason": "5xx rate 12%"}
    after["StateUpdatedTimestamp"] = datetime(2026, 11, 3, 10, 5, 0, 985000, tzinfo=UTC)

    # WHEN the sandbox builds the state change event, and EventBridge adds its envelope
    event = {**state_change_event(before, after), "account": "333333333333", "region": "us-east-1"}

    # THEN it reads as CloudWatch's own: "+0000" times, the alarm's ARN, both states
    assert event["detail"]["state"]["timestamp"] == "2026-11-03T10:05:00.985+0000"
    assert event["detail"]["previousState"]["value"] == "OK"
    change = parse_alarm_state_change(event, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert (change.alarm, change.state, change.reason, change.arn) == (
        "app-errors",
        "ALARM",
        "5xx rate 12%",
        arn,
    )

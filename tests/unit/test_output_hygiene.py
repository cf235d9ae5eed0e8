"""What a commit message or an answer carries reaches no terminal, mail subject or page as control codes."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from click.testing import CliRunner

from path2prod.adapters.alerts import AlertTopic
from path2prod.adapters.prompts import ApprovalPrompts
from path2prod.cli.ledger import format_entries
from path2prod.cli.main import cli
from path2prod.sandbox.home import SandboxConfig, SandboxHome
from tests.support.entries import ledger_entry

HOSTILE_SUBJECT = "stg: approve \x1b[2J\x1b]0;pwned\x07fix\x00 it\n\u202eright-to-left"
HOSTILE_BODY = "Commit message:\n  fix\x1b[31m red\x1b[0m\x07\r\n  second line\x9b2J\n"
TOPIC = "arn:aws:sns:eu-west-1:222222222222:path2prod-stg-approvals"


@dataclass
class FakeSNS:
    published: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, **request: Any) -> dict[str, str]:
        self.published.append(request)
        return {"MessageId": "1"}


def _no_control_codes(text: str, *, lines: bool = True) -> bool:
    allowed = "\n" if lines else ""
    return not any((ord(c) < 32 and c not in allowed) or 0x7F <= ord(c) <= 0x9F for c in text) and (
        "\u202e" not in text
    )


def test_alerts_and_prompts_publish_subjects_sns_accepts_and_clean_bodies() -> None:
    # GIVEN
    sns = FakeSNS()

    # WHEN
    AlertTopic(TOPIC, cast(Any, sns)).publish(HOSTILE_SUBJECT + " and more" * 20, HOSTILE_BODY)
    ApprovalPrompts(TOPIC, cast(Any, sns)).prompt("bob@example.com", HOSTILE_SUBJECT, HOSTILE_BODY)

    # THEN each subject is printable ASCII under 100 characters, each body keeps its lines only
    alert, prompt = sns.published
    for message in (alert, prompt):
        subject = message["Subject"]
        assert subject.startswith("stg: approve fix it right-to-left")
        assert len(subject) < 100 and all(" " <= c <= "~" for c in subject)
        assert message["Message"] == "Commit message:\n  fix red\n  second line\n"
    assert alert["Subject"].endswith("...")
    assert prompt["MessageAttributes"]["approver"]["StringValue"] == "bob@example.com"


def test_local_mail_prints_no_control_codes_and_json_escapes_them(tmp_path: Path) -> None:
    # GIVEN a sandbox whose mailbox holds a mail with escape codes in its subject and body
    home = SandboxHome(tmp_path)
    home.config_file.write_text(json.dumps(asdict(SandboxConfig())))
    mail = {
        "env": "stg",
        "to": "bob@example.com",
        "subject": HOSTILE_SUBJECT,
        "body": HOSTILE_BODY,
        "time": "2026-11-02T09:00:00+00:00",
    }
    home.mail_file.write_text(json.dumps(mail) + "\n")

    # WHEN
    text = CliRunner().invoke(cli, ["local", "mail", "--home", str(tmp_path)])
    as_json = CliRunner().invoke(cli, ["local", "mail", "--home", str(tmp_path), "--json"])

    # THEN the text has no control code and keeps the body's lines; the JSON escapes them all
    assert text.exit_code == 0, text.output
    assert "\x1b" not in text.output and "\x07" not in text.output
    assert _no_control_codes(text.output)
    assert "Subject: stg: approve fix it right-to-left\n" in text.output
    assert "  fix red\n  second line\n" in text.output
    assert as_json.exit_code == 0, as_json.output
    assert "\x1b" not in as_json.output and "\\u001b" in as_json.output
    assert _no_control_codes(as_json.output)
    assert json.loads(as_json.output)[0]["subject"] == HOSTILE_SUBJECT


def test_ledger_history_prints_no_control_codes_of_a_reason() -> None:
    # GIVEN a rejection whose reason (typed by the approver) carries escape codes and a line break
    rejection = ledger_entry(
        env="stg",
        commit="d" * 40,
        state="REJECTED",
        kind="approval",
        execution_id="apr-1",
        time="2026-11-02T09:00:00Z",
        trigger="bob@example.com\x07",
        via="approval page",
        reason="no\x1b[2J\nway\u202e",
    )

    # WHEN
    table = format_entries("stg", [rejection])

    # THEN
    assert _no_control_codes(table)
    assert table.splitlines()[1].endswith("(bob@example.com via approval page: no way)")

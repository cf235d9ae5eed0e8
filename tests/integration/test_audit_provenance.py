"""`audit provenance` against moto: three ledgers (one table per env, as one per account), filled through
LedgerTable.append_entry so every entry carries its chain; what it answers, and what it reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from path2prod.adapters.ledger_table import LedgerTable
from path2prod.audit.provenance import provenance_report
from path2prod.cli.main import cli
from path2prod.domain.vocabulary import EntryKind
from tests.support.entries import in_account, ledger_entry
from tests.support.ledger_config import ledgers_config

REGION = "eu-west-1"
A = "a" * 40
B = "b" * 40
C = "c" * 40


@pytest.fixture
def requests(dynamodb: Any) -> list[dict[str, Any]]:
    """Every DynamoDB request made, by operation (and the index and table of a Query); clear it once the
    test's data is in."""
    log: list[dict[str, Any]] = []

    def sent(model: Any, params: dict[str, Any], **_: Any) -> None:
        log.append(
            {"operation": model.name, "table": params.get("TableName"), "index": params.get("IndexName")}
        )

    dynamodb.meta.events.register("provide-client-params.dynamodb", sent)
    return log


def deploy(
    ledger: LedgerTable, env: str, commit: str, execution: str, at: str, state: str = "SUCCEEDED"
) -> None:
    """One execution of `commit`: STARTED at `at` (HH:00:00), its outcome five minutes later."""
    fields = {"env": env, "commit": commit, "execution_id": execution, **in_account(env)}
    ledger.append_entry(ledger_entry(**fields, state="STARTED", time=at), remember_commit=True)
    ledger.append_entry(ledger_entry(**fields, state=state, time=at.replace(":00:00Z", ":05:00Z")))


def promote(ledger: LedgerTable, env: str, commit: str, request: str, at: str) -> None:
    """A request for `commit` opened and approved by bob at `at`, and pushed by the promoter."""
    fields = {"env": env, "commit": commit, "execution_id": request, "time": at}
    ledger.append_entry(
        ledger_entry(**fields, kind=EntryKind.APPROVAL, state="REQUESTED", trigger="path2prod")
    )
    ledger.append_entry(
        ledger_entry(**fields, kind=EntryKind.APPROVAL, state="APPROVED", trigger="bob@x.com")
    )
    ledger.append_entry(
        ledger_entry(**fields, kind=EntryKind.PROMOTION, state="SUCCEEDED", trigger="path2prod")
    )


def roll_back(ledger: LedgerTable, env: str, target: str, failed: str, at: str) -> None:
    ledger.append_entry(
        ledger_entry(
            env=env,
            commit=target,
            kind=EntryKind.ROLLBACK,
            state="STARTED",
            execution_id=failed,
            time=at,
            from_commit=C,
            trigger="automatic",
            **in_account(env),
        )
    )


def path_of(ledgers: dict[str, LedgerTable], commit: str, day: str, n: int = 0) -> None:
    """`commit` through dev (at 08:00 on `day`, YYYY-MM-DD), stg (10:00) and prd (12:00), approved twice."""
    deploy(ledgers["dev"], "dev", commit, f"dev-{n}", f"{day}T08:00:00Z")
    promote(ledgers["stg"], "stg", commit, f"apr-stg-{n}", f"{day}T09:00:00Z")
    deploy(ledgers["stg"], "stg", commit, f"stg-{n}", f"{day}T10:00:00Z")
    promote(ledgers["prd"], "prd", commit, f"apr-prd-{n}", f"{day}T11:00:00Z")
    deploy(ledgers["prd"], "prd", commit, f"prd-{n}", f"{day}T12:00:00Z")


def test_complete_promotions_rollbacks_and_a_push_straight_to_prd(
    ledgers: dict[str, LedgerTable], requests: list[dict[str, Any]]
) -> None:
    # GIVEN A promoted dev -> stg -> prd on 2 November; B pushed straight to prd on the 3rd; C promoted,
    # failing in prd on the 4th, and prd rolled back to A
    path_of(ledgers, A, "2026-11-02", 1)
    deploy(ledgers["prd"], "prd", B, "prd-b", "2026-11-03T12:00:00Z")
    deploy(ledgers["dev"], "dev", C, "dev-c", "2026-11-04T08:00:00Z")
    promote(ledgers["stg"], "stg", C, "apr-stg-c", "2026-11-04T09:00:00Z")
    deploy(ledgers["stg"], "stg", C, "stg-c", "2026-11-04T10:00:00Z")
    promote(ledgers["prd"], "prd", C, "apr-prd-c", "2026-11-04T11:00:00Z")
    deploy(ledgers["prd"], "prd", C, "prd-c", "2026-11-04T12:00:00Z", state="FAILED")
    roll_back(ledgers["prd"], "prd", A, "prd-c", "2026-11-04T12:06:00Z")
    deploy(ledgers["prd"], "prd", A, "prd-a2", "2026-11-04T13:00:00Z")
    requests.clear()

    # WHEN
    report = provenance_report(["prd"], ledgers, since="2026-11-01", until="2026-11-10")

    # THEN prd's three deployments, B's broken with why
    rows = report.as_rows()
    assert [(r["execution_id"], r["complete"], r["via"], r["reason"]) for r in rows] == [
        ("prd-1", True, "promotion", None),
        ("prd-b", False, None, f"no approval in prd for {B[:12]}; never SUCCEEDED in stg"),
        ("prd-a2", True, "rollback", None),
    ]
    assert [(s["env"], s["what"], s["ref"]) for s in rows[0]["chain"]] == [
        ("dev", "SUCCEEDED", "dev-1"),
        ("stg", "APPROVED", "apr-stg-1"),
        ("stg", "PUSHED", "apr-stg-1"),
        ("stg", "SUCCEEDED", "stg-1"),
        ("prd", "APPROVED", "apr-prd-1"),
        ("prd", "PUSHED", "apr-prd-1"),
        ("prd", "SUCCEEDED", "prd-1"),
    ]
    assert rows[0]["time"] == "2026-11-02T12:05:00Z" and rows[0]["commit"] == A
    # and it read with Queries only: the three ledgers' window (and lookback), then B by commit in each
    assert {r["operation"] for r in requests} == {"Query"}
    assert [(r["table"], r["index"]) for r in requests] == [
        ("ledger-dev", "by-env-time"),
        ("ledger-stg", "by-env-time"),
        ("ledger-prd", "by-env-time"),
        ("ledger-dev", "by-commit-time"),
        ("ledger-stg", "by-commit-time"),
        ("ledger-prd", "by-commit-time"),
    ]


def test_the_reads_do_not_grow_with_the_deployments_of_the_window(
    ledgers: dict[str, LedgerTable], requests: list[dict[str, Any]]
) -> None:
    # GIVEN 24 commits, each promoted properly through the three envs, one a day
    for n in range(24):
        path_of(ledgers, f"{n:040x}", f"2026-11-{n + 1:02d}", n)
    requests.clear()

    # WHEN over 3 days, then over the whole month
    few = provenance_report(["prd"], ledgers, since="2026-11-01", until="2026-11-03T23:59:59Z")
    for_few = list(requests)
    requests.clear()
    many = provenance_report(["prd"], ledgers, since="2026-11-01", until="2026-11-30")

    # THEN every one is complete, and both are one Query per ledger
    assert len(few.rows) == 3 and len(many.rows) == 24
    assert not few.broken and not many.broken
    assert [r["operation"] for r in for_few] == [r["operation"] for r in requests] == ["Query"] * 3


def test_evidence_older_than_the_lookback_is_read_by_commit(
    ledgers: dict[str, LedgerTable], requests: list[dict[str, Any]]
) -> None:
    # GIVEN A promoted in September, and run again in prd in November (nothing else ran in between)
    path_of(ledgers, A, "2026-09-01", 1)
    deploy(ledgers["prd"], "prd", A, "prd-again", "2026-11-05T12:00:00Z")
    requests.clear()

    # WHEN
    report = provenance_report(["prd"], ledgers, since="2026-11-01", until="2026-11-10")

    # THEN the window's read did not reach September: A's own entries, read by commit, back it
    assert [(r.deployment.execution_id, r.complete) for r in report.rows] == [("prd-again", True)]
    assert [r["index"] for r in requests].count("by-commit-time") == 3


def test_stg_and_dev_are_listed_when_asked(ledgers: dict[str, LedgerTable]) -> None:
    # GIVEN A's path, and B pushed straight to stg
    path_of(ledgers, A, "2026-11-02", 1)
    deploy(ledgers["stg"], "stg", B, "stg-b", "2026-11-03T10:00:00Z")

    # WHEN
    report = provenance_report(["dev", "stg"], ledgers, since="2026-11-01", until="2026-11-10")

    # THEN dev's deployment is the entry point; stg's B is broken
    assert [(r.deployment.env, r.deployment.execution_id, r.reason) for r in report.rows] == [
        ("dev", "dev-1", None),
        ("stg", "stg-1", None),
        ("stg", "stg-b", f"no approval in stg for {B[:12]}; never SUCCEEDED in dev"),
    ]


@pytest.fixture
def straight_to_prd(ledgers: dict[str, LedgerTable], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A promoted dev -> stg -> prd on 2 November, B pushed straight to prd on the 3rd; the CLI run from
    `tmp_path` (returned), where a config names each env's table."""
    path_of(ledgers, A, "2026-11-02", 1)
    deploy(ledgers["prd"], "prd", B, "prd-b", "2026-11-03T12:00:00Z")
    ledgers_config(tmp_path, REGION)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_cli_lists_complete_and_broken_and_fails_only_when_asked(straight_to_prd: Path) -> None:
    # GIVEN A's path, B pushed straight to prd (its commit message irrelevant: the sha is what shows),
    # and a config naming each env's table (the fixture)
    runner = CliRunner()
    window = ["--since", "2026-11-01", "--until", "2026-11-10"]

    # WHEN
    as_json = runner.invoke(cli, ["audit", "provenance", *window, "--json"])
    human = runner.invoke(cli, ["audit", "provenance", "--env", "prd", *window])
    failing = runner.invoke(cli, ["audit", "provenance", *window, "--fail-on-broken", "--json"])

    # THEN JSON: one object per deployment, with its chain and reason; exit 0 though one is broken
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.output)
    assert [set(row) for row in rows] == [
        {"env", "commit", "execution_id", "time", "complete", "via", "chain", "reason"}
    ] * 2
    assert [(row["execution_id"], row["complete"]) for row in rows] == [("prd-1", True), ("prd-b", False)]
    assert rows[1]["chain"] == [
        {"env": "prd", "what": "SUCCEEDED", "time": "2026-11-03T12:05:00Z", "ref": "prd-b", "by": None}
    ]
    # the text: a table, B marked BROKEN with its reason, then the count
    assert human.exit_code == 0, human.output
    lines = human.output.splitlines()
    assert lines[0].split() == ["ENV", "SUCCEEDED", "COMMIT", "EXECUTION", "PROVENANCE"]
    assert lines[1].split()[:5] == ["prd", "2026-11-02T12:05:00Z", A[:12], "prd-1", "complete"]
    assert lines[1].endswith("complete (promotion: dev > stg > prd)")
    assert lines[2].endswith(f"BROKEN: no approval in prd for {B[:12]}; never SUCCEEDED in stg")
    assert lines[-1] == "prd: 2 deployments in 2026-11-01T00:00:00Z .. 2026-11-10T00:00:00Z, 1 broken"
    # --fail-on-broken: the same JSON, and exit 1
    assert failing.exit_code == 1
    assert json.loads(failing.output) == rows


def test_a_commit_broken_in_two_envs_is_read_by_commit_for_each(
    ledgers: dict[str, LedgerTable], requests: list[dict[str, Any]]
) -> None:
    # GIVEN B pushed straight to stg, then straight to prd
    deploy(ledgers["stg"], "stg", B, "stg-b", "2026-11-03T10:00:00Z")
    deploy(ledgers["prd"], "prd", B, "prd-b", "2026-11-03T12:00:00Z")
    requests.clear()

    # WHEN stg and prd are listed
    report = provenance_report(["stg", "prd"], ledgers, since="2026-11-01", until="2026-11-10")

    # THEN both broken, prd's for itself (its own link is missing too)
    assert [(r.deployment.env, r.reason) for r in report.rows] == [
        ("stg", f"no approval in stg for {B[:12]}; never SUCCEEDED in dev"),
        ("prd", f"no approval in prd for {B[:12]}"),
    ]
    # and B was read by commit where each needed it: dev and stg for stg's; dev, stg and prd for prd's
    assert [(r["table"], r["index"]) for r in requests if r["index"] == "by-commit-time"] == [
        ("ledger-dev", "by-commit-time"),
        ("ledger-stg", "by-commit-time"),
        ("ledger-dev", "by-commit-time"),
        ("ledger-stg", "by-commit-time"),
        ("ledger-prd", "by-commit-time"),
    ]
    assert len(requests) == 3 + 5 and {r["operation"] for r in requests} == {"Query"}


def test_the_report_page_marks_the_deployment_pushed_straight_to_prd(straight_to_prd: Path) -> None:
    # GIVEN A's path and B pushed straight to prd, and a config naming each env's table (the fixture)
    out = straight_to_prd / "report.html"

    # WHEN the auditor writes the report of that window
    result = CliRunner().invoke(
        cli, ["report", "--out", str(out), "--since", "2026-11-01", "--until", "2026-11-10"]
    )

    # THEN its provenance section lists stg's and prd's deployments of A as complete and B's as broken
    assert result.exit_code == 0, result.output
    page = out.read_text()
    start = page.index('<section id="provenance">')
    section = page[start : page.index("</section>", start)]
    assert "1 of 3 deployments in stg and prd have a broken chain" in section
    assert '<tr class="broken"><td>prd</td><td>2026-11-03T12:05:00Z</td>' in section
    assert f"BROKEN: no approval in prd for {B[:12]}; never SUCCEEDED in stg" in section
    assert section.count("complete (promotion: dev &gt; stg") == 2

    # AND a report of dev alone judges nothing: no provenance section
    dev_only = CliRunner().invoke(
        cli, ["report", "--env", "dev", "--out", str(out), "--since", "2026-11-01", "--until", "2026-11-10"]
    )
    assert dev_only.exit_code == 0, dev_only.output
    assert 'id="provenance"' not in out.read_text()


def test_a_commit_the_gate_refused_is_listed_broken_with_the_gates_reason(
    ledgers: dict[str, LedgerTable], requests: list[dict[str, Any]]
) -> None:
    # GIVEN A promoted to prd on 2 November; on the 3rd B, pushed straight to prd, refused by the gate
    # before it built (its execution FAILED), and a WARNED gate entry of another execution (warn mode)
    path_of(ledgers, A, "2026-11-02", 1)
    deploy(ledgers["prd"], "prd", B, "prd-b", "2026-11-03T12:00:00Z", state="FAILED")
    for execution, state in (("prd-b", "REFUSED"), ("prd-w", "WARNED")):
        ledgers["prd"].append_entry(
            ledger_entry(
                env="prd",
                commit=B,
                kind=EntryKind.GATE,
                state=state,
                execution_id=execution,
                time="2026-11-03T12:00:01Z",
                trigger="arn:aws:events:eu-west-1:333333333333:rule/push-to-main",
                reason=f"no approval in prd for {B[:12]}",
                **in_account("prd"),
            )
        )
    requests.clear()

    # WHEN
    rows = provenance_report(["prd"], ledgers, since="2026-11-01", until="2026-11-10").as_rows()

    # THEN A is complete, and B is listed broken (it never deployed), the gate's refusal its one step
    assert [(r["execution_id"], r["complete"], r["reason"]) for r in rows] == [
        ("prd-1", True, None),
        ("prd-b", False, f"refused by the gate: no approval in prd for {B[:12]}"),
    ]
    assert rows[1]["time"] == "2026-11-03T12:00:01Z" and rows[1]["commit"] == B
    assert [(s["what"], s["by"]) for s in rows[1]["chain"]] == [
        ("REFUSED", "arn:aws:events:eu-west-1:333333333333:rule/push-to-main")
    ]
    # AND no read more than the window's
    assert [r["index"] for r in requests] == ["by-env-time"] * 3

"""where, export and metrics against moto: what they answer, and that they read only what they need.

Each env has its own ledger table (in AWS each is in its own account); every table is built from
template.yaml's own definition and filled through LedgerTable.append_entry, so entries carry their chain.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from path2prod import ENVS
from path2prod.adapters.errors import LedgerUnavailable
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.audit.export import export_entries
from path2prod.audit.metrics import env_metrics
from path2prod.audit.where import where_is
from path2prod.cli.main import cli
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.vocabulary import EntryKind
from tests.support.entries import in_account, ledger_entry
from tests.support.ledger_config import ledgers_config

REGION = "eu-west-1"
A = "a" * 40
B = "b" * 40
C = "c" * 40
HEADER = (
    "env,commit,state,kind,execution_id,time,attempt,pipeline,start_time,account,region,"
    "from_commit,trigger,reason,via,seq,prev_hash,hash,request_id,source"
)


@pytest.fixture
def queries(dynamodb: Any) -> list[dict[str, Any]]:
    """Every Query's request and its Count / ScannedCount, in order (clear it once the test's data is in)."""
    log: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    dynamodb.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: pending.append(dict(params))
    )

    def answered(parsed: dict[str, Any], **_: Any) -> None:
        log.append({**pending.pop(0), "Count": parsed["Count"], "ScannedCount": parsed["ScannedCount"]})

    dynamodb.meta.events.register("after-call.dynamodb.Query", answered)
    return log


def _entry(env: str, commit: str, execution: str, state: str, time: str) -> LedgerEntry:
    return ledger_entry(
        env=env, commit=commit, state=state, execution_id=execution, time=time, **in_account(env)
    )


def _deploy(ledger: LedgerTable, env: str, commit: str, execution: str, outcome: str, day: str) -> None:
    """One execution: STARTED at 10:00 and its outcome at 10:05 on `day` (YYYY-MM-DD)."""
    ledger.append_entry(_entry(env, commit, execution, "STARTED", f"{day}T10:00:00Z"), remember_commit=True)
    ledger.append_entry(_entry(env, commit, execution, outcome, f"{day}T10:05:00Z"))


# -- where ----------------------------------------------------------------------------------------------


def test_where_knows_which_commit_runs_where_after_a_newer_one_succeeds(
    ledgers: dict[str, LedgerTable],
) -> None:
    # GIVEN A went dev -> stg -> prd; then B succeeded in dev and failed in stg
    for n, env in enumerate(ENVS, start=1):
        _deploy(ledgers[env], env, A, f"{env}-1", "SUCCEEDED", f"2026-11-0{n}")
    _deploy(ledgers["dev"], "dev", B, "dev-2", "SUCCEEDED", "2026-11-04")
    _deploy(ledgers["stg"], "stg", B, "stg-2", "FAILED", "2026-11-05")

    # WHEN
    where_a = where_is(A.upper(), ledgers).as_dict()
    where_b = where_is(B, ledgers).as_dict()

    # THEN A still runs in stg (B failed there) and prd, no longer in dev
    assert where_a == {
        "commit": A,
        "envs": {
            "dev": {
                "state": "SUCCEEDED",
                "kind": "deployment",
                "time": "2026-11-01T10:05:00Z",
                "execution_id": "dev-1",
                "current": False,
                "request_id": None,
            },
            "stg": {
                "state": "SUCCEEDED",
                "kind": "deployment",
                "time": "2026-11-02T10:05:00Z",
                "execution_id": "stg-1",
                "current": True,
                "request_id": None,
            },
            "prd": {
                "state": "SUCCEEDED",
                "kind": "deployment",
                "time": "2026-11-03T10:05:00Z",
                "execution_id": "prd-1",
                "current": True,
                "request_id": None,
            },
        },
    }
    assert {env: (s and (s["state"], s["current"])) for env, s in where_b["envs"].items()} == {
        "dev": ("SUCCEEDED", True),
        "stg": ("FAILED", False),
        "prd": None,
    }


def test_where_reads_a_few_items_however_long_the_history(
    ledgers: dict[str, LedgerTable], queries: list[dict[str, Any]]
) -> None:
    # GIVEN A succeeded in dev long ago, followed by 40 other executions
    _deploy(ledgers["dev"], "dev", A, "dev-0", "SUCCEEDED", "2026-10-01")
    for n in range(1, 41):
        _deploy(ledgers["dev"], "dev", f"{n:040x}", f"dev-{n}", "SUCCEEDED", f"2026-11-{n % 28 + 1:02d}")
    queries.clear()

    # WHEN
    where = where_is(A, ledgers)

    # THEN one Query per env for the commit, one small page of dev's history for `current`
    assert where.envs["dev"] is not None and where.envs["dev"].current is False
    assert len(queries) == 4
    assert sum(q["ScannedCount"] for q in queries) <= 1 + 10


def test_where_does_not_skip_an_unreachable_ledger(ledgers: dict[str, LedgerTable], dynamodb: Any) -> None:
    # GIVEN prd's table cannot be found
    reachable = {**ledgers, "prd": LedgerTable("no-such-ledger", dynamodb)}

    # WHEN / THEN
    with pytest.raises(LedgerUnavailable, match="no-such-ledger"):
        where_is(A, reachable)


# -- export ---------------------------------------------------------------------------------------------


def test_export_csv_streams_every_entry_page_by_page(
    ledgers: dict[str, LedgerTable], queries: list[dict[str, Any]]
) -> None:
    # GIVEN 2 entries per execution: 6 executions in prd, 4 in dev, 1 in stg
    for env, executions in (("prd", 6), ("dev", 4), ("stg", 1)):
        for n in range(executions):
            _deploy(ledgers[env], env, f"{n:040x}", f"{env}-{n}", "SUCCEEDED", f"2026-11-{n + 1:02d}")
    queries.clear()
    out = io.StringIO()
    written_at_each_query: list[int] = []
    ledgers["dev"].client.meta.events.register(
        "before-call.dynamodb.Query", lambda **_: written_at_each_query.append(len(out.getvalue()))
    )

    # WHEN pages of 4 entries
    count = export_entries(ledgers, out, format="csv", page_size=4)

    # THEN every entry, env by env and oldest first, read in many Queries, and rows were written between
    # them (the export never held the whole ledger)
    lines = out.getvalue().splitlines()
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert count == len(rows) == 22
    assert lines[0] == HEADER
    assert [row["env"] for row in rows] == ["dev"] * 8 + ["stg"] * 2 + ["prd"] * 12
    dev_times = [row["time"] for row in rows if row["env"] == "dev"]
    assert dev_times == sorted(dev_times)
    assert all(row["seq"] and len(row["hash"]) == 64 and len(row["prev_hash"]) == 64 for row in rows)
    assert len(queries) > 1
    assert all(q["Limit"] == 4 for q in queries)
    assert len(set(written_at_each_query)) > 2


def test_export_reads_full_pages_and_history_asks_for_what_it_shows(
    ledgers: dict[str, LedgerTable], queries: list[dict[str, Any]]
) -> None:
    # GIVEN 30 executions in prd (60 entries)
    for n in range(30):
        _deploy(ledgers["prd"], "prd", f"{n:040x}", f"prd-{n}", "SUCCEEDED", f"2026-11-{n + 1:02d}")
    queries.clear()

    # WHEN prd is exported, then its newest 7 entries are listed
    count = export_entries({"prd": ledgers["prd"]}, io.StringIO(), format="csv")
    exported = list(queries)
    queries.clear()
    newest = list(ledgers["prd"].history("prd", limit=7))

    # THEN the export is one Query without a Limit (DynamoDB's 1 MB page holds all 60), and history one
    # Query of Limit 7
    assert count == 60 and len(exported) == 1 and "Limit" not in exported[0]
    assert len(newest) == 7 and [q["Limit"] for q in queries] == [7]


def test_export_json_is_one_array_of_the_window(ledgers: dict[str, LedgerTable]) -> None:
    # GIVEN executions on 1, 2, 3 and 4 November in stg
    for day in range(1, 5):
        _deploy(ledgers["stg"], "stg", f"{day:040x}", f"stg-{day}", "SUCCEEDED", f"2026-11-0{day}")
    out = io.StringIO()

    # WHEN the window is 2 November 10:05 to 3 November 10:00, both inclusive
    count = export_entries(
        {"stg": ledgers["stg"]},
        out,
        format="json",
        since="2026-11-02T10:05:00Z",
        until="2026-11-03T10:00:00Z",
        page_size=1,
    )

    # THEN
    exported = json.loads(out.getvalue())
    assert count == 2
    assert [(e["execution_id"], e["state"]) for e in exported] == [
        ("stg-2", "SUCCEEDED"),
        ("stg-3", "STARTED"),
    ]
    assert {"seq", "prev_hash", "hash", "env", "commit"} <= exported[0].keys()


def test_export_of_an_empty_ledger_is_an_empty_array(ledgers: dict[str, LedgerTable]) -> None:
    # WHEN
    out = io.StringIO()
    export_entries(ledgers, out, format="json")

    # THEN
    assert json.loads(out.getvalue()) == []


def test_export_csv_writes_no_cell_a_spreadsheet_would_run(ledgers: dict[str, LedgerTable]) -> None:
    # GIVEN a rejection whose reason and approver are formulas (typed on the page by whoever answered)
    _deploy(ledgers["stg"], "stg", A, "stg-1", "SUCCEEDED", "2026-11-01")
    rejection = ledger_entry(
        env="stg",
        commit=A,
        state="REJECTED",
        kind="approval",
        execution_id="apr-0123",
        time="2026-11-01T11:00:00Z",
        trigger="@bob\x00",
        via="-approval page",
        reason='=HYPERLINK("http://x","y")',
    )
    ledgers["stg"].append_entry(rejection)
    out = io.StringIO()

    # WHEN
    count = export_entries({"stg": ledgers["stg"]}, out, format="csv")

    # THEN no cell starts with a formula character, and the reason is still there to read, as text
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert count == len(rows) - 1 == 3
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    header, *_, rejected = rows
    exported = dict(zip(header, rejected, strict=True))
    assert exported["reason"] == '\'=HYPERLINK("http://x","y")'
    assert (exported["trigger"], exported["via"]) == ("'@bob", "'-approval page")
    assert exported["state"] == "REJECTED" and exported["seq"].isdigit()


def test_a_page_of_a_window_reads_only_that_window(ledgers: dict[str, LedgerTable]) -> None:
    # GIVEN 60 executions, one a day from 1 September
    ledger = ledgers["prd"]
    for n in range(60):
        day = f"2026-{9 + n // 30:02d}-{n % 30 + 1:02d}"
        _deploy(ledger, "prd", f"{n:040x}", f"prd-{n}", "SUCCEEDED", day)

    # WHEN one week of October
    page = ledger.history_page("prd", limit=100, since="2026-10-08", until="2026-10-14T23:59:59Z")

    # THEN DynamoDB read as many items as it returned
    assert len(page.entries) == 14
    assert page.scanned_count == len(page.entries)
    assert page.next_cursor is None


# -- metrics --------------------------------------------------------------------------------------------


def test_metrics_of_prd_over_a_window(ledgers: dict[str, LedgerTable], queries: list[dict[str, Any]]) -> None:
    # GIVEN prd working before the window; in it A succeeds, B breaks prd, C restores it a day later,
    # A is deployed again (a rollback); each commit entered the path in dev three hours before prd
    dev, prd = ledgers["dev"], ledgers["prd"]
    _deploy(prd, "prd", "0" * 40, "prd-0", "SUCCEEDED", "2026-10-20")
    for commit, day in ((A, "2026-11-02"), (B, "2026-11-03"), (C, "2026-11-04")):
        dev.append_entry(_entry("dev", commit, f"dev-{commit[0]}", "STARTED", f"{day}T07:05:00Z"))
        dev.append_entry(_entry("dev", commit, f"dev-{commit[0]}", "SUCCEEDED", f"{day}T07:10:00Z"))
    _deploy(prd, "prd", A, "prd-1", "SUCCEEDED", "2026-11-02")
    _deploy(prd, "prd", B, "prd-2", "FAILED", "2026-11-03")
    _deploy(prd, "prd", C, "prd-3", "SUCCEEDED", "2026-11-04")
    _deploy(prd, "prd", A, "prd-4", "SUCCEEDED", "2026-11-05")
    queries.clear()

    # WHEN
    metrics = env_metrics("prd", prd, dev, since="2026-11-01", until="2026-11-11")

    # THEN
    assert metrics.as_dict() == {
        "env": "prd",
        "since": "2026-11-01T00:00:00Z",
        "until": "2026-11-11T00:00:00Z",
        "deployment_frequency": {"value": 0.3, "unit": "deployments per day", "deployments": 3, "days": 10.0},
        "lead_time_for_changes": {
            "value": 3 * 3600.0,
            "unit": "seconds",
            "p90": 3 * 3600.0,
            "commits": 2,
            "not_seen_in_dev": 0,
        },
        "change_failure_rate": {"value": 0.25, "unit": "ratio", "failed": 1, "succeeded": 3},
        "time_to_restore": {"value": 86400.0, "unit": "seconds", "restored": 1, "unrestored": 0},
    }
    # the window and the 30 days before it, in prd and in dev, joined in memory: two Queries in all
    assert [(q["TableName"], q["ExpressionAttributeValues"][":pk"]["S"]) for q in queries] == [
        ("ledger-prd", "ENV#prd"),
        ("ledger-dev", "ENV#dev"),
    ]
    assert all(q["ScannedCount"] == q["Count"] for q in queries)


def test_metrics_leave_out_an_execution_the_gate_refused(ledgers: dict[str, LedgerTable]) -> None:
    # GIVEN A deployed in prd, then B pushed straight to prd: the gate refused it, its execution FAILED
    # before any build (A kept running)
    dev, prd = ledgers["dev"], ledgers["prd"]
    _deploy(prd, "prd", A, "prd-1", "SUCCEEDED", "2026-11-02")
    _deploy(prd, "prd", B, "prd-2", "FAILED", "2026-11-03")
    prd.append_entry(
        ledger_entry(
            env="prd",
            commit=B,
            kind=EntryKind.GATE,
            state="REFUSED",
            execution_id="prd-2",
            time="2026-11-03T10:00:01Z",
            reason=f"no approval in prd for {B[:12]}",
            **in_account("prd"),
        )
    )

    # WHEN
    metrics = env_metrics("prd", prd, dev, since="2026-11-01", until="2026-11-11").as_dict()

    # THEN B is no deployment and no failure: one deployment, nothing failed, nothing to restore
    assert metrics["deployment_frequency"]["deployments"] == 1
    assert metrics["change_failure_rate"]["failed"] == 0
    assert metrics["time_to_restore"]["restored"] == metrics["time_to_restore"]["unrestored"] == 0


def test_metrics_make_the_same_requests_for_a_window_of_many_commits(
    ledgers: dict[str, LedgerTable], dynamodb: Any
) -> None:
    # GIVEN 40 commits, each entering dev 2 hours before it succeeds in prd, one a day in November
    dev, prd = ledgers["dev"], ledgers["prd"]
    for n in range(40):
        day = f"2026-{10 + (n + 1) // 31:02d}-{(n % 30) + 1:02d}"
        dev.append_entry(_entry("dev", f"{n:040x}", f"dev-{n}", "STARTED", f"{day}T08:05:00Z"))
        _deploy(prd, "prd", f"{n:040x}", f"prd-{n}", "SUCCEEDED", day)
    requests: list[str] = []
    dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: requests.append(model.name))

    # WHEN metrics over 12 days, then over 40
    few = env_metrics("prd", prd, dev, since="2026-10-01", until="2026-10-12T23:59:59Z")
    requests_for_few = list(requests)
    requests.clear()
    many = env_metrics("prd", prd, dev, since="2026-10-01", until="2026-11-10T23:59:59Z")

    # THEN every lead time is measured (2 h), and the requests do not grow with the commits: one Query
    # of prd's entries and one of dev's, whatever the window holds, and one look before the lookback
    # (no deployment ended in it: was prd working when the window opened?)
    assert few.lead_time_for_changes.details["commits"] == 12
    assert many.lead_time_for_changes.details["commits"] == 40
    assert many.lead_time_for_changes.value == few.lead_time_for_changes.value == 2 * 3600.0
    assert requests_for_few == requests == ["Query", "Query", "Query"]


def test_metrics_read_by_commit_what_the_lookback_cannot_settle(
    ledgers: dict[str, LedgerTable], queries: list[dict[str, Any]]
) -> None:
    # GIVEN A entered dev in July and first succeeded in prd in November; B was deployed to prd in August
    # and is redeployed in the window by a rollback (in dev too: its dev entries alone would look new)
    dev, prd = ledgers["dev"], ledgers["prd"]
    dev.append_entry(_entry("dev", A, "dev-a", "STARTED", "2026-07-01T10:00:00Z"))
    dev.append_entry(_entry("dev", B, "dev-b", "STARTED", "2026-08-01T10:00:00Z"))
    dev.append_entry(_entry("dev", B, "dev-b2", "STARTED", "2026-11-03T08:00:00Z"))
    _deploy(prd, "prd", B, "prd-b", "SUCCEEDED", "2026-08-02")
    _deploy(prd, "prd", A, "prd-a", "SUCCEEDED", "2026-11-02")
    prd.append_entry(
        ledger_entry(
            env="prd",
            commit=B,
            state="STARTED",
            kind="rollback",
            execution_id="prd-a",
            time="2026-11-03T09:00:00Z",
            from_commit=A,
            trigger="manual",
            **in_account("prd"),
        )
    )
    _deploy(prd, "prd", B, "prd-b2", "SUCCEEDED", "2026-11-03")
    queries.clear()

    # WHEN
    metrics = env_metrics("prd", prd, dev, since="2026-11-01", until="2026-11-11")

    # THEN A's lead time runs from July (read by commit), and B is no new change (its first SUCCEEDED
    # in prd was in August, before the lookback)
    assert metrics.lead_time_for_changes.details["commits"] == 1
    assert metrics.lead_time_for_changes.value == (124 * 86400.0 + 5 * 60)
    by_commit = [q for q in queries if q["IndexName"] == "by-commit-time"]
    assert len(by_commit) == 4  # A and B, each in prd and in dev


def test_metrics_read_the_window_not_the_table(
    ledgers: dict[str, LedgerTable], queries: list[dict[str, Any]]
) -> None:
    # GIVEN 30 executions before the window, a break inside it, and 30 executions after it
    prd = ledgers["prd"]
    for n in range(30):
        _deploy(
            prd, "prd", f"{n:040x}", f"before-{n}", "SUCCEEDED", f"2026-{8 + n // 28:02d}-{n % 28 + 1:02d}"
        )
    _deploy(prd, "prd", B, "inside", "FAILED", "2026-11-03")
    for n in range(30):
        _deploy(
            prd, "prd", f"{n:040x}", f"after-{n}", "SUCCEEDED", f"2027-{1 + n // 28:02d}-{n % 28 + 1:02d}"
        )
    queries.clear()

    # WHEN
    metrics = env_metrics("prd", prd, ledgers["dev"], since="2026-11-01", until="2026-11-30")

    # THEN the break was restored by the first success after the window, found in a small page
    assert metrics.change_failure_rate.details == {"failed": 1, "succeeded": 0}
    assert metrics.time_to_restore.details == {"restored": 1, "unrestored": 0}
    assert metrics.time_to_restore.value == 59 * 86400.0  # 3 November to 1 January
    assert sum(q["ScannedCount"] for q in queries) <= 2 + 10 + 10
    assert all(q["ScannedCount"] == q["Count"] for q in queries)


# -- the CLI, reaching each env's ledger through the config file ----------------------------------------


def test_the_cli_answers_where_export_and_metrics(
    ledgers: dict[str, LedgerTable], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN A went dev -> stg -> prd, and a config naming each env's table
    for n, env in enumerate(ENVS, start=1):
        _deploy(ledgers[env], env, A, f"{env}-1", "SUCCEEDED", f"2026-11-0{n}")
    ledgers_config(tmp_path, REGION)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    # WHEN
    where = runner.invoke(cli, ["ledger", "where", A, "--json"])
    human = runner.invoke(cli, ["ledger", "where", A])
    export = runner.invoke(cli, ["ledger", "export", "--format", "csv", "--out", "ledger.csv"])
    metrics = runner.invoke(cli, ["metrics", "--since", "2026-11-01", "--until", "2026-11-11", "--json"])

    # THEN
    assert where.exit_code == 0, where.output
    assert all(found["current"] for found in json.loads(where.output)["envs"].values())
    assert [line.split()[0] for line in human.output.splitlines()] == ["dev", "stg", "prd"]
    assert export.exit_code == 0, export.output
    assert "exported 6 ledger entries to ledger.csv" in export.output
    assert (tmp_path / "ledger.csv").read_text().splitlines()[0] == HEADER
    assert not list(tmp_path.glob(".*.partial"))
    assert metrics.exit_code == 0, metrics.output
    assert json.loads(metrics.output)["deployment_frequency"]["value"] == 0.1

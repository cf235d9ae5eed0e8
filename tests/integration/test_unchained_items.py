"""Only chained items count: an item put straight into a ledger table, without a valid chain position,
is ignored by every reader and named by `ledger verify` (issue 9, item 3).

Each env has its own ledger table built from template.yaml's own definition, filled through
LedgerTable.append_entry (so entries carry their chain); the forged items are put with a bare PutItem,
as anyone with write access to the table could.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from path2prod import ENVS
from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.errors import LedgerTampered
from path2prod.adapters.ledger_codec import entry_from_data, serialize_item
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.audit.export import export_chain, export_entries
from path2prod.audit.where import where_is
from path2prod.cli.main import cli
from path2prod.domain.chain import item_hash
from path2prod.domain.ledger import LedgerEntry
from path2prod.sandbox.template import table_definition
from tests.support.entries import in_account, ledger_entry

REGION = "eu-west-1"
A = "a" * 40
B = "b" * 40
FORGED = "f" * 40
PIPELINE = "path2prod-app"


@pytest.fixture
def dynamodb(aws: None) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def ledgers(dynamodb: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, LedgerTable]:
    """An empty ledger table per env, and a path2prod.toml in the current folder naming each."""
    tables = {}
    for env in ENVS:
        dynamodb.create_table(**table_definition(table_name=f"ledger-{env}"))
        tables[env] = LedgerTable(f"ledger-{env}", dynamodb)
    (tmp_path / "path2prod.toml").write_text(
        "".join(f'[envs.{env}]\nregion = "{REGION}"\nledger_table = "ledger-{env}"\n' for env in ENVS)
    )
    monkeypatch.chdir(tmp_path)
    return tables


def _entry(commit: str, execution: str, state: str, time: str, env: str = "dev") -> LedgerEntry:
    return ledger_entry(
        env=env, commit=commit, state=state, execution_id=execution, time=time, **in_account("dev")
    )


def _deploy(ledger: LedgerTable, commit: str, execution: str, day: str) -> None:
    """One execution that SUCCEEDED: STARTED at 10:00 and SUCCEEDED at 10:05 on `day`."""
    ledger.append_entry(_entry(commit, execution, "STARTED", f"{day}T10:00:00Z"), remember_commit=True)
    ledger.append_entry(_entry(commit, execution, "SUCCEEDED", f"{day}T10:05:00Z"))


def _chained(ledger: LedgerTable, commit: str, state: str = "SUCCEEDED") -> dict[str, Any]:
    return next(
        item
        for item in ledger.chain_items()
        if item.get("commit") == commit and item.get("state") == state and item.get("kind") == "deployment"
    )


def _forge(ledger: LedgerTable, template: dict[str, Any], *, commit: str, execution: str, time: str) -> dict:
    """A copy of a chained entry with seq/prev_hash/hash removed, claiming another commit and a later
    time, put straight into the table: it sits in by-env-time and by-commit-time, not in by-chain."""
    forged = {key: value for key, value in template.items() if key not in ("seq", "prev_hash", "hash")}
    time_sk = f"{time}#{forged.get('start_time') or ''}#0001#3#{execution}"
    forged.update(
        pk=f"EXEC#{PIPELINE}#{execution}",
        execution_id=execution,
        commit=commit,
        time=time,
        gsi1sk=time_sk,
        gsi2pk=f"COMMIT#{commit}",
        gsi2sk=time_sk,
    )
    ledger.client.put_item(TableName=ledger.table_name, Item=serialize_item(forged))
    return forged


@pytest.fixture
def forged(ledgers: dict[str, LedgerTable]) -> dict[str, Any]:
    """dev ran A then B (both SUCCEEDED); then a copy of B's SUCCEEDED entry, unchained, says FORGED
    SUCCEEDED a day later."""
    dev = ledgers["dev"]
    _deploy(dev, A, "dev-1", "2026-11-01")
    _deploy(dev, B, "dev-2", "2026-11-02")
    return _forge(dev, _chained(dev, B), commit=FORGED, execution="forged-1", time="2026-11-03T10:05:00Z")


def _no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


# -- verify ---------------------------------------------------------------------------------------------


def test_verify_names_an_item_put_without_chain_fields(forged: dict[str, Any]) -> None:
    # GIVEN dev's intact chain and, outside it, the forged copy

    # WHEN
    runner = CliRunner(mix_stderr=False)
    text = runner.invoke(cli, ["ledger", "verify", "--full"])
    as_json = runner.invoke(cli, ["ledger", "verify", "--full", "--json"])

    # THEN it exits non-zero naming the item by pk and sk, one line for it, no traceback
    assert text.exit_code == 1, text.output
    _no_traceback(text)
    named = [line for line in text.output.splitlines() if "NOT CHAINED" in line]
    assert named == [
        f"dev: NOT CHAINED pk={forged['pk']!r} sk={forged['sk']!r}: has no chain fields (seq, prev_hash, "
        "hash): it was not appended through the chain"
    ]
    assert "dev: chain intact (6 chained items: " in text.output
    assert "stg: intact" in text.output and "prd: intact" in text.output
    # AND the JSON keeps its keys, adds the list, and says dev is not intact though its chain is
    assert as_json.exit_code == 1, as_json.output
    report = json.loads(as_json.stdout)
    dev = report["envs"][0]
    assert report["intact"] is False
    assert dev["env"] == "dev" and dev["intact"] is False and dev["first_break"] is None
    assert dev["checked"] == 6 and dev["head_seq"] == 6
    assert dev["unchained"] == [
        {"pk": forged["pk"], "sk": forged["sk"], "reason": named[0].split(": ", 2)[2]},
    ]
    assert [env["unchained"] for env in report["envs"][1:]] == [[], []]


def test_verify_of_untouched_ledgers_exits_0(ledgers: dict[str, LedgerTable]) -> None:
    # GIVEN only chained entries
    _deploy(ledgers["dev"], A, "dev-1", "2026-11-01")

    # WHEN
    result = CliRunner(mix_stderr=False).invoke(cli, ["ledger", "verify", "--full", "--json"])

    # THEN
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["intact"] is True and all(env["unchained"] == [] for env in report["envs"])


def test_verify_names_an_item_with_a_binary_attribute_without_a_traceback(
    ledgers: dict[str, LedgerTable],
) -> None:
    # GIVEN a chained entry that gained a Binary attribute, and an unchained item that holds one
    dev = ledgers["dev"]
    _deploy(dev, A, "dev-1", "2026-11-01")
    victim = _chained(dev, A)
    dev.client.update_item(
        TableName=dev.table_name,
        Key={"pk": {"S": victim["pk"]}, "sk": {"S": victim["sk"]}},
        UpdateExpression="SET #b = :b",
        ExpressionAttributeNames={"#b": "blob"},
        ExpressionAttributeValues={":b": {"B": b"\x00\xff"}},
    )
    started = _chained(dev, A, "STARTED")
    stray = {key: value for key, value in started.items() if key not in ("seq", "prev_hash", "hash")}
    stray.update(sk="ENTRY#0002#3#SUCCEEDED", payload=b"\x01")
    dev.client.put_item(TableName=dev.table_name, Item=serialize_item(stray))

    # WHEN
    runner = CliRunner(mix_stderr=False)
    text = runner.invoke(cli, ["ledger", "verify", "--full", "--env", "dev"])
    as_json = runner.invoke(cli, ["ledger", "verify", "--full", "--env", "dev", "--json"])

    # THEN both are named by key, with the attribute, and nothing crashed
    assert text.exit_code == 1 and as_json.exit_code == 1, text.output
    _no_traceback(text)
    _no_traceback(as_json)
    broken = json.loads(as_json.stdout)["envs"][0]["first_break"]
    assert (broken["pk"], broken["sk"]) == (victim["pk"], victim["sk"])
    assert "cannot be hashed" in broken["reason"] and "'blob'" in broken["reason"]
    assert f"BROKEN at entry #{victim['seq']}" in text.output and f"sk={victim['sk']!r}" in text.output
    unchained = {(u["pk"], u["sk"]): u["reason"] for u in json.loads(as_json.stdout)["envs"][0]["unchained"]}
    assert "'blob'" in unchained[(victim["pk"], victim["sk"])]
    assert "'payload'" in unchained[(stray["pk"], stray["sk"])]
    assert f"NOT CHAINED pk={stray['pk']!r} sk={stray['sk']!r}" in text.output


def test_verify_names_a_forged_approval_entry_but_never_a_request(ledgers: dict[str, LedgerTable]) -> None:
    # GIVEN a request item (mutable, unchained by design) with a chained approval entry of its own,
    # and, in the same partition, an approval put straight into the table (in no env partition)
    stg = ledgers["stg"]
    request = {
        "pk": "APPROVAL#r-1",
        "sk": "REQUEST",
        "kind": "approval-request",
        "id": "r-1",
        "env": "stg",
        "state": "PENDING",
        "gsi2pk": "APPROVALS#stg",
        "gsi2sk": "2026-11-01T10:00:00Z#r-1",
        "gsi1pk": "APPROVALS-PENDING#stg",
        "gsi1sk": "2026-11-01T10:00:00Z#r-1",
    }
    stg.client.put_item(TableName=stg.table_name, Item=serialize_item(request))
    opened = ledger_entry(
        env="stg",
        commit=A,
        state="PENDING",
        kind="approval",
        execution_id="r-1",
        pipeline=PIPELINE,
        time="2026-11-01T10:00:00Z",
        trigger="dev-1",
    )
    stg.append_entry(opened)
    approval = {
        "pk": "APPROVAL#r-1",
        "sk": "ENTRY#approval#0001#APPROVED#mallory@example.com",
        "kind": "approval",
        "env": "stg",
        "commit": A,
        "state": "APPROVED",
        "execution_id": "r-1",
        "pipeline": PIPELINE,
        "attempt": 1,
        "time": "2026-11-01T10:01:00Z",
        "trigger": "mallory@example.com",
    }
    stg.client.put_item(TableName=stg.table_name, Item=serialize_item(approval))

    # WHEN
    result = CliRunner(mix_stderr=False).invoke(cli, ["ledger", "verify", "--full", "--env", "stg", "--json"])
    entries = ApprovalRequests(stg).entries("r-1")

    # THEN only the forged approval is named; the request and the chained entry are not
    assert result.exit_code == 1, result.output
    unchained = json.loads(result.stdout)["envs"][0]["unchained"]
    assert [(u["pk"], u["sk"]) for u in unchained] == [(approval["pk"], approval["sk"])]
    # AND the request's entries as readers see them hold only the chained one
    assert [(e.state, e.trigger) for e in entries] == [("PENDING", "dev-1")]


# -- readers --------------------------------------------------------------------------------------------


def test_history_does_not_show_it(forged: dict[str, Any], ledgers: dict[str, LedgerTable]) -> None:
    # GIVEN the forged copy, newer than every chained entry

    # WHEN
    result = CliRunner(mix_stderr=False).invoke(cli, ["ledger", "history", "dev", "--json", "--limit", "1"])
    everything = list(ledgers["dev"].history("dev"))

    # THEN the newest entry is B's real one, and the limit counts entries shown, not items read
    assert result.exit_code == 0, result.output
    assert [(e["commit"], e["execution_id"]) for e in json.loads(result.stdout)] == [(B, "dev-2")]
    assert FORGED not in {entry.commit for entry in everything} and len(everything) == 4


def test_last_succeeded_commit_ignores_it(forged: dict[str, Any], ledgers: dict[str, LedgerTable]) -> None:
    # GIVEN the forged copy saying FORGED SUCCEEDED last
    dev = ledgers["dev"]

    # WHEN / THEN what a rollback restores is a chained SUCCEEDED commit, never FORGED
    assert dev.last_succeeded_commit("dev") == B
    assert dev.last_succeeded_commit("dev", other_than=B) == A
    assert dev.commit_entries(FORGED) == []
    assert dev.execution_entries(PIPELINE, "forged-1") == []


def test_where_ignores_it(forged: dict[str, Any], ledgers: dict[str, LedgerTable]) -> None:
    # GIVEN the forged copy

    # WHEN
    where_forged = where_is(FORGED, ledgers)
    where_b = where_is(B, ledgers)

    # THEN FORGED never ran anywhere, and B still runs in dev
    assert all(found is None for found in where_forged.envs.values())
    assert where_b.envs["dev"] is not None and where_b.envs["dev"].current is True


def test_export_leaves_it_out_but_the_chain_export_is_unchanged(
    forged: dict[str, Any], ledgers: dict[str, LedgerTable]
) -> None:
    # GIVEN the forged copy
    entries, chain = _Stream(), _Stream()

    # WHEN
    count = export_entries({"dev": ledgers["dev"]}, entries, format="json")
    chained = export_chain({"dev": ledgers["dev"]}, chain)

    # THEN
    assert count == 4 and FORGED not in entries.getvalue()
    assert chained == 6 and FORGED not in chain.getvalue()


class _Stream:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def getvalue(self) -> str:
        return "".join(self.parts)


def test_pages_of_skipped_items_are_followed_not_taken_for_the_end(
    ledgers: dict[str, LedgerTable], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN A and B, then more forged items newer than both than fit in one page
    dev = ledgers["dev"]
    _deploy(dev, A, "dev-1", "2026-11-01")
    _deploy(dev, B, "dev-2", "2026-11-02")
    template = _chained(dev, B)
    keys = [
        (forged["pk"], forged["sk"])
        for forged in (
            _forge(dev, template, commit=B, execution=f"forged-{n}", time=f"2026-11-1{n}T10:05:00Z")
            for n in range(5)
        )
    ]
    caplog.set_level(logging.WARNING, logger="path2prod.adapters.ledger_reads")

    # WHEN pages hold two items and every item of the first pages is skipped
    newest = list(dev.history("dev", limit=2, page_size=2))
    of_b = dev.commit_entries(B, limit=1)
    dev.last_succeeded_commit("dev")

    # THEN the entries come from later pages, as many as asked for
    assert [(e.execution_id, e.state) for e in newest] == [("dev-2", "SUCCEEDED"), ("dev-2", "STARTED")]
    assert [(e.execution_id, e.state, e.seq) for e in of_b] == [("dev-2", "SUCCEEDED", 6)]
    # AND each skipped item is logged once by its key, however many reads met it
    warned = [record.getMessage() for record in caplog.records if "ignored item" in record.getMessage()]
    assert len(warned) == len(keys)
    assert all(any(f"pk={pk!r} sk={sk!r}" in message for message in warned) for pk, sk in keys)


def test_a_chained_item_whose_state_is_no_word_of_the_ledger_is_skipped_and_refused_on_decoding(
    ledgers: dict[str, LedgerTable], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN A deployed, then a copy of its SUCCEEDED item saying EXPLODED, rehashed so that its chain
    # position is valid: only its state is not one of the vocabulary's (domain/vocabulary.py)
    dev = ledgers["dev"]
    _deploy(dev, A, "dev-1", "2026-11-01")
    odd = {**_chained(dev, A), "state": "EXPLODED", "sk": "ENTRY#0001#3#EXPLODED"}
    odd["hash"] = item_hash(odd)
    dev.client.put_item(TableName=dev.table_name, Item=serialize_item(odd))
    caplog.set_level(logging.WARNING, logger="path2prod.adapters.ledger_reads")

    # WHEN the env's history is read, and the item is decoded on its own
    history = list(dev.history("dev"))
    with pytest.raises(LedgerTampered) as refused:
        entry_from_data(odd)

    # THEN readers skip it as they skip an unchained item, naming its key; decoding it alone refuses it
    assert [(e.execution_id, e.state) for e in history] == [("dev-1", "SUCCEEDED"), ("dev-1", "STARTED")]
    assert any(f"sk={odd['sk']!r}" in record.getMessage() for record in caplog.records)
    assert odd["pk"] in str(refused.value) and odd["sk"] in str(refused.value)

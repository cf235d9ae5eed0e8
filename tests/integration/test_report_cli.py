"""`path2prod report` against three ledgers in moto's server, reached through a config file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from path2prod.adapters.ledger_table import LedgerTable
from path2prod.cli.main import cli
from path2prod.sandbox.template import table_definition
from tests.support.entries import ledger_entry
from tests.support.moto_server import client

REGION = "eu-west-1"
SHA = "c0ffee" + "0" * 34
EARLIER = "bead" + "0" * 36
WINDOW = ["--since", "2026-11-01", "--until", "2026-11-30T23:59:59Z"]


@pytest.fixture(scope="module")
def config(aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Three ledgers where SHA went dev -> stg -> prd in November, and EARLIER ran in dev in October."""
    endpoint = aws_endpoint
    dynamodb = client(endpoint, "dynamodb")
    sections = []
    for hour, env in enumerate(("dev", "stg", "prd")):
        dynamodb.create_table(**table_definition(table_name=f"{env}-ledger"))
        ledger = LedgerTable(f"{env}-ledger", dynamodb)
        started = ledger_entry(
            env=env,
            commit=SHA,
            state="STARTED",
            execution_id=f"{env}-1",
            pipeline=f"app-{env}",
            time=f"2026-11-10T1{hour}:00:00Z",
            start_time=f"2026-11-10T1{hour}:00:00Z",
        )
        ledger.append_entry(started)
        ledger.append_entry(replace(started, state="SUCCEEDED", time=f"2026-11-10T1{hour}:05:00Z"))
        if env == "dev":
            ledger.append_entry(
                replace(started, commit=EARLIER, execution_id="dev-0", time="2026-10-01T10:00:00Z")
            )
        sections.append(
            f'[envs.{env}]\nregion = "{REGION}"\nledger_table = "{env}-ledger"\nendpoint_url = "{endpoint}"\n'
        )
    path = tmp_path_factory.mktemp("report-cli") / "path2prod.toml"
    path.write_text("\n".join(sections))
    return path


def test_report_writes_the_window_of_all_three_ledgers(config: Path, tmp_path: Path) -> None:
    # WHEN
    out = tmp_path / "r.html"
    result = CliRunner().invoke(cli, ["report", "--out", str(out), "--config", str(config), *WINDOW])

    # THEN
    assert result.exit_code == 0, result.output
    assert (
        result.output.strip()
        == f"wrote {out} (6 ledger entries, 2026-11-01T00:00:00Z .. 2026-11-30T23:59:59Z)"
    )
    page = out.read_text()
    assert re.findall(r'<g class="lane" data-env="(\w+)">', page) == ["dev", "stg", "prd"]
    assert page.count(f"commit {SHA}") == 3 and EARLIER not in page
    assert len(re.findall(r'<path class="flow" d="[^"]+"><title>', page)) == 2
    assert "<time>2026-11-01T00:00:00Z</time> → <time>2026-11-30T23:59:59Z</time>" in page
    # 1 deployment in 30 days; SHA entered dev at 10:00 and succeeded in prd at 12:05
    prd_lead_time = re.search(r'data-env="prd"><title>prd: ([^<(]+) \(', page.split('data-metric="lead')[1])
    assert prd_lead_time is not None and prd_lead_time.group(1) == "2 h 5 min"
    assert "0.0333 per day" in page and not list(tmp_path.glob(".*.partial"))


def test_report_json_says_what_it_wrote(config: Path, tmp_path: Path) -> None:
    # WHEN
    out = tmp_path / "r.html"
    result = CliRunner().invoke(
        cli, ["report", "--out", str(out), "--config", str(config), "--json", *WINDOW]
    )

    # THEN
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "out": str(out),
        "entries": {"dev": 2, "stg": 2, "prd": 2},
        "since": "2026-11-01T00:00:00Z",
        "until": "2026-11-30T23:59:59Z",
    }
    assert out.read_text().startswith("<!doctype html>")


def test_a_bad_time_is_a_one_line_error(config: Path, tmp_path: Path) -> None:
    # WHEN
    result = CliRunner().invoke(
        cli, ["report", "--out", str(tmp_path / "r.html"), "--config", str(config), "--since", "last week"]
    )

    # THEN
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("Error: --since 'last week' is not an ISO-8601 date or time")


def test_an_unwritable_out_is_a_one_line_error(config: Path, tmp_path: Path) -> None:
    # WHEN
    out = tmp_path / "no-such-folder" / "r.html"
    result = CliRunner().invoke(cli, ["report", "--out", str(out), "--config", str(config), *WINDOW])

    # THEN
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: cannot write {out}: No such file or directory"


def test_report_env_shows_only_those_envs_and_still_reads_dev_for_lead_time(
    config: Path, tmp_path: Path
) -> None:
    # WHEN the report is asked for prd and stg only (in any order)
    out = tmp_path / "r.html"
    result = CliRunner().invoke(
        cli,
        [
            "report",
            "--out",
            str(out),
            "--config",
            str(config),
            "--env",
            "prd",
            "--env",
            "stg",
            "--json",
            *WINDOW,
        ],
    )

    # THEN only their lanes and counts, in pipeline order; prd's lead time still starts in dev
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["entries"] == {"stg": 2, "prd": 2}
    page = out.read_text()
    assert re.findall(r'<g class="lane" data-env="(\w+)">', page) == ["stg", "prd"]
    prd_lead_time = re.search(r'data-env="prd"><title>prd: ([^<(]+) \(', page.split('data-metric="lead')[1])
    assert prd_lead_time is not None and prd_lead_time.group(1) == "2 h 5 min"

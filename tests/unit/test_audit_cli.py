"""The auditors' commands refuse bad input in one line, before reaching any ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from path2prod.cli.main import cli


@pytest.fixture(autouse=True)
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No config file anywhere: a command that got past its input checks would fail differently."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PATH2PROD_CONFIG", raising=False)


@pytest.mark.parametrize("sha", ["dfd3156", "HEAD", "z" * 40])
def test_where_outside_a_repository_names_what_it_could_not_resolve(sha: str) -> None:
    # GIVEN no git repository in the working directory and no sandbox
    # WHEN
    result = CliRunner().invoke(cli, ["ledger", "where", sha])

    # THEN
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {sha!r} names no commit in the current directory's repository: run in a clone of the app, "
        "or pass the full 40-digit sha"
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["ledger", "export", "--format", "csv", "--since", "last tuesday"],
        ["metrics", "--since", "last tuesday"],
    ],
    ids=["export", "metrics"],
)
def test_a_bad_since_is_one_line_naming_the_option(args: list[str]) -> None:
    # WHEN
    result = CliRunner().invoke(cli, args)

    # THEN
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: --since 'last tuesday' is not an ISO-8601 date or time "
        "(e.g. 2026-11-01 or 2026-11-01T10:00:00Z)"
    ]


@pytest.mark.parametrize(
    "command", [["ledger", "export", "--format", "json"], ["metrics"]], ids=["export", "metrics"]
)
def test_a_window_ending_before_it_starts_is_refused(command: list[str]) -> None:
    # WHEN
    result = CliRunner().invoke(cli, [*command, "--since", "2026-11-02", "--until", "2026-11-01"])

    # THEN
    assert result.exit_code == 1
    assert (
        result.output.strip() == "Error: --since 2026-11-02T00:00:00Z is after --until 2026-11-01T00:00:00Z"
    )


def test_export_needs_a_format() -> None:
    # WHEN
    result = CliRunner().invoke(cli, ["ledger", "export"])

    # THEN click names the missing option and its choices
    assert result.exit_code == 2
    assert "Missing option '--format'" in result.output
    assert "csv" in result.output and "json" in result.output

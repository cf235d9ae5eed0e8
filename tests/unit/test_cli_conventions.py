"""What every command shares: --json (errors included), $PATH2PROD_HOME, commits named as git names them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from path2prod.cli.commits import resolve_commit
from path2prod.cli.errors import UnknownCommit
from path2prod.cli.local import approval_fields
from path2prod.cli.main import cli
from tests.support.git import git

# Commands whose output is a story for people, not data; each says why.
NO_JSON = {
    ("demo",): "prints the story as it happens; `demo --keep DIR` leaves a sandbox every command can query",
    ("ledger", "export"): "`--format json` is its machine-readable form (streamed, for millions of entries)",
}


def _leaf_commands() -> list[tuple[str, ...]]:
    leaves: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        else:
            leaves.append(path)

    walk(cli, ())
    return leaves


@pytest.mark.parametrize("path", _leaf_commands(), ids=" ".join)
def test_every_command_takes_json(path: tuple[str, ...]) -> None:
    # GIVEN a command of the CLI
    command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    # THEN it has --json, or a stated reason not to
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    assert "--json" in options or path in NO_JSON, f"{' '.join(path)} has no --json"


# Commands that read several envs: --env narrows them, repeatable (issue 12: the CLI names envs one way).
READ_SEVERAL_ENVS = [
    ("ledger", "history"),
    ("ledger", "verify"),
    ("ledger", "where"),
    ("ledger", "export"),
    ("status",),
    ("report",),
    ("approvals", "list"),
    ("audit", "provenance"),
]


@pytest.mark.parametrize("path", READ_SEVERAL_ENVS, ids=" ".join)
def test_a_command_that_reads_several_envs_takes_env_repeatable(path: tuple[str, ...]) -> None:
    # GIVEN a command that reads several envs
    command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    # THEN its --env may be given more than once
    env = [param for param in command.params if "--env" in getattr(param, "opts", [])]
    assert len(env) == 1 and isinstance(env[0], click.Option) and env[0].multiple


def _path2prod(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed entry point (main(), which turns errors into one line), in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-c", "from path2prod.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_an_error_under_json_is_one_json_object_on_stdout(tmp_path: Path) -> None:
    # WHEN a command asked for --json fails on bad input
    result = _path2prod("ledger", "history", "qa", "--home", str(tmp_path), "--json")
    # THEN stdout holds {"error": ...} alone, and the exit is non-zero
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "error": "unknown environment 'qa' (expected one of: dev, stg, prd)",
        "exit_code": 1,
    }
    assert "Traceback" not in result.stderr


def test_a_usage_error_under_json_is_json_too() -> None:
    result = _path2prod("ledger", "where", "--json")
    assert result.returncode == 2
    assert "Missing argument" in json.loads(result.stdout)["error"]


def test_without_json_the_error_is_one_line_on_stderr(tmp_path: Path) -> None:
    result = _path2prod("ledger", "history", "qa", "--home", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "Error: unknown environment 'qa' (expected one of: dev, stg, prd)"
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["ledger", "history", "dev"],
        ["ledger", "verify"],
        ["metrics"],
        ["approvals", "list"],
        ["audit", "provenance"],
    ],
)
def test_path2prod_home_is_honoured_without_home(tmp_path: Path, command: list[str]) -> None:
    # GIVEN $PATH2PROD_HOME naming a folder with no sandbox, and no --home
    home = tmp_path / "sandbox"
    # WHEN a command that reads the ledger runs
    result = CliRunner().invoke(cli, command, env={"PATH2PROD_HOME": str(home)})
    # THEN it went to that sandbox (not to the AWS config)
    assert result.exit_code == 1
    assert f"no sandbox at {home}" in result.output


def _git(repo: Path, *args: str) -> str:
    return git("-C", str(repo), *args)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    _git(app, "init", "--quiet", "-b", "main")
    for number in range(2):
        (app / "f").write_text(str(number))
        _git(app, "add", "f")
        _git(app, "commit", "--quiet", "-m", f"c{number}")
    return app


def test_a_commit_is_named_by_full_sha_short_sha_or_ref(repo: Path) -> None:
    # GIVEN the app clone's HEAD
    head = _git(repo, "rev-parse", "HEAD")
    # THEN HEAD, a 7-digit sha, the branch and the full sha (any case) all name it
    assert resolve_commit("HEAD", cwd=repo) == head
    assert resolve_commit(head[:7], cwd=repo) == head
    assert resolve_commit("main", cwd=repo) == head
    assert resolve_commit("HEAD~1", cwd=repo) == _git(repo, "rev-parse", "HEAD~1")
    assert resolve_commit(head.upper(), cwd=tmp_path_outside(repo)) == head


def tmp_path_outside(repo: Path) -> Path:
    """A folder that is no git repository: a full sha needs none."""
    return repo.parent


def test_a_commit_is_found_in_the_sandbox_repos_outside_any_clone(repo: Path, tmp_path: Path) -> None:
    # GIVEN a sandbox home whose dev repo holds the commit, and a working directory that is no repo
    home = tmp_path / "home"
    (home / "repos").mkdir(parents=True)
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", str(repo), str(home / "repos" / "dev.git")], check=True
    )
    head = _git(repo, "rev-parse", "HEAD")
    # THEN its short sha resolves there
    assert resolve_commit(head[:8], home, cwd=tmp_path) == head


@pytest.mark.parametrize("name", ["--output=/tmp/x", "HEAD..main", "a b", "", "x" * 300, "HEAD;rm"])
def test_what_is_no_commit_name_is_refused_before_git_runs(repo: Path, name: str) -> None:
    with pytest.raises(UnknownCommit, match="is not a commit"):
        resolve_commit(name, cwd=repo)


def test_an_unknown_name_says_where_it_looked(repo: Path) -> None:
    with pytest.raises(UnknownCommit, match="names no commit in the current directory's repository"):
        resolve_commit("deadbee", cwd=repo)


def test_ledger_where_takes_head_in_the_app_clone(repo: Path, tmp_path: Path, monkeypatch) -> None:
    # GIVEN the app clone as working directory and no sandbox at home
    monkeypatch.chdir(repo)
    # WHEN `ledger where HEAD` runs, THEN HEAD was resolved (the error is about the sandbox, not the sha)
    result = CliRunner().invoke(cli, ["ledger", "where", "HEAD", "--home", str(tmp_path / "none")])
    assert "no sandbox at" in result.output
    assert "not a full commit" not in result.output


def test_an_approval_prompt_gives_scripts_its_link_and_request_id() -> None:
    body = "path2prod asks you...\n\nReview it:\nhttp://127.0.0.1:9/stg/?t=abc.def\n\nRequest req-01HX_9\n"
    assert approval_fields(body) == {"link": "http://127.0.0.1:9/stg/?t=abc.def", "request_id": "req-01HX_9"}
    assert approval_fields("an alert, with no link") == {}


@pytest.mark.parametrize(
    "args",
    [
        ["ledger", "history", "--env", "dev"],
        ["ledger", "history", "dev", "--env", "dev"],
        ["rollback", "--env", "prd"],
        ["redeploy", "--env", "prd", "abc1234"],
        ["local", "break", "--env", "prd"],
        ["approvals", "request", "--env", "stg", "HEAD"],
    ],
)
def test_env_is_named_by_env_option_as_by_the_env_argument(tmp_path: Path, args: list[str]) -> None:
    # GIVEN no sandbox where --home points
    home = tmp_path / "none"
    # WHEN the env is named with --env
    result = CliRunner().invoke(cli, [*args, "--home", str(home)])
    # THEN the command got past its arguments and went to the sandbox
    assert "no sandbox at" in result.output or "names no commit" in result.output, result.output


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["ledger", "history"], "name the env: ENV or --env ENV"),
        (["rollback", "stg", "--env", "prd"], "ENV 'stg' and --env 'prd' name different envs"),
        (["approvals", "request", "--env", "dev", "HEAD"], "'dev' takes no approvals"),
        (["approvals", "request", "stg"], "Missing argument 'COMMIT'"),
    ],
)
def test_env_naming_mistakes_are_one_line_usage_errors(args: list[str], problem: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert problem in result.output

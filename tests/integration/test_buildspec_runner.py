"""The local pipeline's buildspec runner against CodeBuild's documented phase rules, with real bash."""

from __future__ import annotations

from pathlib import Path

import pytest

from path2prod.sandbox.buildspec import parse_buildspec, run_buildspec


def _build(tmp_path: Path, buildspec: str) -> tuple[bool, str, str, tuple[str, ...]]:
    source = tmp_path / "src"
    source.mkdir()
    (source / "buildspec.yml").write_text(buildspec)
    log = tmp_path / "build.log"
    result = run_buildspec(source, {"PATH2PROD_ENV": "dev"}, log)
    return result.succeeded, result.summary, log.read_text(), result.warnings


def test_finally_runs_after_a_failing_command_and_the_phase_fails(tmp_path: Path) -> None:
    # GIVEN a build phase whose second command fails, with a finally block
    spec = """
version: 0.2
phases:
  build:
    commands:
      - echo first
      - "false"
      - echo never-runs
    finally:
      - echo cleaning-up
  post_build:
    commands:
      - echo post-build-runs
"""
    # WHEN it runs
    succeeded, summary, log, _ = _build(tmp_path, spec)
    # THEN the rest of the block is skipped, finally and post_build run, and the build fails in BUILD
    assert not succeeded
    assert summary == "COMMAND_EXECUTION_ERROR in phase BUILD"
    assert "first" in log and "cleaning-up" in log and "post-build-runs" in log
    assert "\nnever-runs" not in log


def test_a_failing_finally_fails_a_phase_whose_commands_passed(tmp_path: Path) -> None:
    succeeded, summary, log, _ = _build(
        tmp_path,
        "version: 0.2\nphases:\n  build:\n    commands: [echo ok]\n    finally: ['false']\n",
    )
    assert not succeeded
    assert summary == "COMMAND_EXECUTION_ERROR in phase BUILD"
    assert "phase BUILD FAILED" in log


@pytest.mark.parametrize(
    ("on_failure", "reaches_build"),
    [("ABORT", False), ("CONTINUE", True)],
)
def test_on_failure_of_install_decides_whether_the_build_goes_on(
    tmp_path: Path, on_failure: str, reaches_build: bool
) -> None:
    # GIVEN a failing install phase with on-failure ABORT or CONTINUE
    spec = f"""
version: 0.2
phases:
  install:
    on-failure: {on_failure}
    commands: ["false"]
  build:
    commands: [echo build-phase-ran]
"""
    succeeded, summary, log, _ = _build(tmp_path, spec)
    # THEN the build fails either way, naming INSTALL; only CONTINUE runs the build phase
    assert not succeeded
    assert summary == "COMMAND_EXECUTION_ERROR in phase INSTALL"
    assert ("build-phase-ran\n" in log) is reaches_build


def test_commands_share_one_shell_and_env_variables(tmp_path: Path) -> None:
    spec = """
version: 0.2
env:
  variables:
    GREETING: hello
phases:
  pre_build:
    commands: ["export STAGE=built", "mkdir -p out && cd out"]
  build:
    commands: ['echo "$GREETING $STAGE $PATH2PROD_ENV $(basename $PWD)"']
"""
    succeeded, summary, log, warnings = _build(tmp_path, spec)
    assert succeeded, log
    assert summary == "Build succeeded"
    assert "hello built dev out" in log
    assert warnings == ()


def test_each_key_not_emulated_is_warned_about_once_in_the_log(tmp_path: Path) -> None:
    # GIVEN a buildspec using keys CodeBuild knows but this runner does not emulate
    spec = """
version: 0.2
env:
  parameter-store:
    TOKEN: /app/token
  secrets-manager:
    KEY: prod/app:key
phases:
  install:
    runtime-versions:
      python: 3.13
    commands: [echo installing]
  build:
    on-failure: RETRY-2
    commands: [echo building]
artifacts:
  files: ['**/*']
"""
    succeeded, _, log, warnings = _build(tmp_path, spec)
    # THEN the build runs, and the log names each ignored key once
    assert succeeded
    for key in ("env.parameter-store", "env.secrets-manager", "phases.install.runtime-versions", "artifacts"):
        assert log.count(f"'{key}' is not emulated") == 1, key
    assert "RETRY-2" in log
    assert len(warnings) == 5


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("- just a list", "must be a mapping"),
        ("phases:\n  deploy:\n    commands: [echo]", "unknown phase"),
        ("phases:\n  build:\n    commands: echo", "'commands' must be a list"),
        ("phases:\n  build:\n    finally: {a: b}", "'finally' must be a list"),
        ("env: [a]", "'env' must be a mapping"),
    ],
)
def test_malformed_buildspecs_are_refused_with_the_reason(spec: str, problem: str) -> None:
    import yaml

    with pytest.raises(ValueError, match=problem):
        parse_buildspec(yaml.safe_load(spec))

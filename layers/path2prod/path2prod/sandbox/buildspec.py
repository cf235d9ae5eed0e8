"""Running a buildspec.yml the way CodeBuild does, on this machine.

Emulated, as the buildspec reference describes them
(https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html):
- `version`, `env.variables`;
- the phases install, pre_build, build and post_build, each with `commands`, `finally` and
  `on-failure` (ABORT, the default, or CONTINUE);
- all commands run in one shell (a `cd` or an `export` carries over); the first failing command of
  `commands` skips the rest of that block; `finally` runs even then, and a phase fails when any of its
  commands or finally commands fails;
- phase transitions (https://docs.aws.amazon.com/codebuild/latest/userguide/view-build-details-phases.html):
  a failed install or pre_build ends the build, a failed build still runs post_build; with
  `on-failure: CONTINUE` the next phases run anyway, and the build still fails.

Not emulated (the build runs on this machine, with no artifact store, no secrets and no root):
every other key — `runtime-versions`, `run-as`, `env.parameter-store`, `env.secrets-manager`,
`artifacts`, `reports`, `cache`, ... — and `on-failure: RETRY*`. Each is named once at the top of the
build's log as a warning, never silently ignored.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PHASES = ("install", "pre_build", "build", "post_build")
# Phases whose failure ends the build (unless on-failure: CONTINUE); a failed build runs post_build.
_ENDS_THE_BUILD = ("install", "pre_build")
_EMULATED_TOP = {"version", "env", "phases"}
_EMULATED_ENV = {"variables"}
_EMULATED_PHASE = {"commands", "finally", "on-failure"}
_ON_FAILURE = {"ABORT", "CONTINUE"}


@dataclass(frozen=True)
class BuildResult:
    succeeded: bool
    summary: str  # one line: what failed, or "Build succeeded"
    warnings: tuple[str, ...] = ()  # buildspec keys this runner does not emulate


@dataclass(frozen=True)
class Phase:
    name: str
    commands: list[str]
    finally_commands: list[str] = field(default_factory=list)
    on_failure: str = "ABORT"


@dataclass(frozen=True)
class Buildspec:
    phases: dict[str, Phase]
    variables: dict[str, str]
    warnings: tuple[str, ...]


def run_buildspec(
    source_dir: Path, extra_env: dict[str, str], log_path: Path, timeout: float = 900
) -> BuildResult:
    """Run source_dir/buildspec.yml; everything the build prints goes to log_path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        spec_file = source_dir / "buildspec.yml"
        if not spec_file.is_file():
            return _fail(log, "YAML_FILE_ERROR: buildspec.yml not found in the commit")
        try:
            spec = parse_buildspec(yaml.safe_load(spec_file.read_text()))
        except (yaml.YAMLError, ValueError) as error:
            return _fail(log, f"YAML_FILE_ERROR: {error}".replace("\n", " "))
        for warning in spec.warnings:
            log.write(f"[path2prod] warning: {warning}\n")

        # The daemon's own AWS_* settings never reach a build (the caller's profile or keys could deploy
        # to a real account): a build gets only what extra_env gives, the sandbox's endpoint and keys.
        inherited = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        env = {**inherited, **spec.variables, **extra_env}
        log.write(f"[path2prod] running buildspec.yml with PATH2PROD_ENV={extra_env.get('PATH2PROD_ENV')}\n")
        log.flush()
        try:
            completed = subprocess.run(
                ["bash", "-c", build_script(spec.phases)],
                cwd=source_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return _fail(log, f"build timed out after {timeout:.0f} s", spec.warnings)
        if completed.returncode == 0:
            log.write("[path2prod] Build succeeded\n")
            return BuildResult(True, "Build succeeded", spec.warnings)
        if 100 <= completed.returncode < 100 + len(PHASES):
            failed_phase = PHASES[completed.returncode - 100]
        else:
            failed_phase = "build"
        return _fail(log, f"COMMAND_EXECUTION_ERROR in phase {failed_phase.upper()}", spec.warnings)


def parse_buildspec(spec: Any) -> Buildspec:
    """The parts of a buildspec this runner emulates, and a warning for each part it does not."""
    if not isinstance(spec, dict):
        raise ValueError("buildspec.yml must be a mapping")
    warnings = [_not_emulated(key) for key in spec if key not in _EMULATED_TOP]
    env_section = spec.get("env") or {}
    if not isinstance(env_section, dict):
        raise ValueError("'env' must be a mapping")
    warnings += [_not_emulated(f"env.{key}") for key in env_section if key not in _EMULATED_ENV]
    variables = env_section.get("variables") or {}
    if not isinstance(variables, dict):
        raise ValueError("'env.variables' must be a mapping")
    phases_section = spec.get("phases") or {}
    if not isinstance(phases_section, dict):
        raise ValueError("'phases' must be a mapping")
    phases = {}
    for name, body in phases_section.items():
        if name not in PHASES:
            raise ValueError(f"unknown phase {name!r}")
        phase, phase_warnings = _phase(str(name), body or {})
        phases[phase.name] = phase
        warnings += phase_warnings
    return Buildspec(phases, {str(k): str(v) for k, v in variables.items()}, tuple(warnings))


def _phase(name: str, body: Any) -> tuple[Phase, list[str]]:
    if not isinstance(body, dict):
        raise ValueError(f"phase {name!r} must be a mapping")
    warnings = [_not_emulated(f"phases.{name}.{key}") for key in body if key not in _EMULATED_PHASE]
    on_failure = str(body.get("on-failure", "ABORT"))
    if on_failure not in _ON_FAILURE:
        warnings.append(f"phases.{name}.on-failure {on_failure!r} is not emulated: the phase aborts")
        on_failure = "ABORT"
    return (
        Phase(
            name,
            _commands(body.get("commands", []), f"phase {name!r} 'commands'"),
            _commands(body.get("finally", []), f"phase {name!r} 'finally'"),
            on_failure,
        ),
        warnings,
    )


def _commands(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str | int | float) for c in value):
        raise ValueError(f"{what} must be a list of strings")
    return [str(c) for c in value]


def _not_emulated(key: str) -> str:
    return f"buildspec key {key!r} is not emulated by the local pipeline: ignored (CodeBuild would use it)"


def build_script(phases: Mapping[str, Phase]) -> str:
    """One bash script for the whole build; exit code 100+i names the first failed phase i."""
    lines = ["failed=''", "ended=''"]
    for index, name in enumerate(PHASES):
        phase = phases.get(name, Phase(name, []))
        # A phase runs unless an earlier one ended the build.
        lines.append('if [ -z "$ended" ]; then')
        lines.append(f"  echo {shlex.quote(f'[path2prod] phase {name.upper()}')}")
        lines.append("  phase_ok=1")
        for command in phase.commands:
            lines.append('  if [ "$phase_ok" = 1 ]; then')
            lines.append(f"    echo {shlex.quote('$ ' + command)}")
            lines.append(f"    eval {shlex.quote(command)} || phase_ok=0")
            lines.append("  fi")
        if phase.finally_commands:
            lines.append(f"  echo {shlex.quote(f'[path2prod] phase {name.upper()} finally')}")
            lines.append("  finally_ok=1")
            for command in phase.finally_commands:
                lines.append('  if [ "$finally_ok" = 1 ]; then')
                lines.append(f"    echo {shlex.quote('$ ' + command)}")
                lines.append(f"    eval {shlex.quote(command)} || {{ finally_ok=0; phase_ok=0; }}")
                lines.append("  fi")
        lines.append('  if [ "$phase_ok" = 0 ]; then')
        lines.append(f'    [ -n "$failed" ] || failed={100 + index}')
        lines.append(f"    echo {shlex.quote(f'[path2prod] phase {name.upper()} FAILED')}")
        if phase.on_failure == "ABORT" and name in _ENDS_THE_BUILD:
            lines.append("    ended=1")
        lines.append("  fi")
        lines.append("fi")
    lines.append('if [ -n "$failed" ]; then exit "$failed"; fi')
    return "\n".join(lines) + "\n"


def _fail(log: Any, summary: str, warnings: tuple[str, ...] = ()) -> BuildResult:
    log.write(f"[path2prod] {summary}\n")
    return BuildResult(False, summary, warnings)

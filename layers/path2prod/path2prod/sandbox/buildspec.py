"""Running a buildspec.yml the way CodeBuild does, on this machine.

Supported: `version`, `env.variables`, and the phases install, pre_build, build, post_build with
their `commands` lists. As in CodeBuild, all commands run in one shell (a `cd` or an `export` carries
over), the first failing command fails its phase, a failed install or pre_build skips the rest, and
post_build runs even when build failed.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PHASES = ("install", "pre_build", "build", "post_build")


@dataclass(frozen=True)
class BuildResult:
    succeeded: bool
    summary: str  # one line: what failed, or "Build succeeded"


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
            spec = yaml.safe_load(spec_file.read_text())
            phases, variables = _phases(spec)
        except (yaml.YAMLError, ValueError) as error:
            return _fail(log, f"YAML_FILE_ERROR: {error}".replace("\n", " "))

        # The daemon's own AWS_* settings never reach a build (the caller's profile or keys could deploy
        # to a real account): a build gets only what extra_env gives, the sandbox's endpoint and keys.
        inherited = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        env = {**inherited, **variables, **extra_env}
        script = _script(phases)
        log.write(f"[path2prod] running buildspec.yml with PATH2PROD_ENV={extra_env.get('PATH2PROD_ENV')}\n")
        log.flush()
        try:
            completed = subprocess.run(
                ["bash", "-c", script],
                cwd=source_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return _fail(log, f"build timed out after {timeout:.0f} s")
        if completed.returncode == 0:
            log.write("[path2prod] Build succeeded\n")
            return BuildResult(True, "Build succeeded")
        failed_phase = (
            PHASES[min(completed.returncode - 100, len(PHASES) - 1)]
            if completed.returncode >= 100
            else "build"
        )
        return _fail(log, f"COMMAND_EXECUTION_ERROR in phase {failed_phase.upper()}")


def _phases(spec: Any) -> tuple[dict[str, list[str]], dict[str, str]]:
    if not isinstance(spec, dict):
        raise ValueError("buildspec.yml must be a mapping")
    phases_section = spec.get("phases") or {}
    if not isinstance(phases_section, dict):
        raise ValueError("'phases' must be a mapping")
    phases: dict[str, list[str]] = {}
    for name, body in phases_section.items():
        if name not in PHASES:
            raise ValueError(f"unknown phase {name!r}")
        commands = (body or {}).get("commands", []) if isinstance(body, dict) else None
        if not isinstance(commands, list) or not all(isinstance(c, str | int | float) for c in commands):
            raise ValueError(f"phase {name!r} needs a 'commands' list of strings")
        phases[name] = [str(c) for c in commands]
    variables = (
        ((spec.get("env") or {}).get("variables") or {}) if isinstance(spec.get("env"), dict | None) else {}
    )
    if not isinstance(variables, dict):
        raise ValueError("'env.variables' must be a mapping")
    return phases, {str(k): str(v) for k, v in variables.items()}


def _script(phases: dict[str, list[str]]) -> str:
    """One bash script for the whole build; the exit code 100+i names the failed phase i."""
    lines = ["build_failed=0"]
    for index, phase in enumerate(PHASES):
        commands = phases.get(phase, [])
        guard = 'if [ "$build_failed" = 0 ]; then' if phase != "post_build" else "if true; then"
        lines.append(guard)
        lines.append(f"  echo {shlex.quote(f'[path2prod] phase {phase.upper()}')}")
        for command in commands:
            on_fail = "build_failed=1" if phase == "build" else f"exit {100 + index}"
            lines.append(f'  if [ "$build_failed" = 0 ] || [ {phase!r} = post_build ]; then')
            lines.append(f"    echo {shlex.quote('$ ' + command)}")
            lines.append(f"    eval {shlex.quote(command)} || {{ {on_fail}; }}")
            lines.append("  fi")
        lines.append("fi")
    lines.append(f'if [ "$build_failed" = 1 ]; then exit {100 + PHASES.index("build")}; fi')
    return "\n".join(lines) + "\n"


def _fail(log: Any, summary: str) -> BuildResult:
    log.write(f"[path2prod] {summary}\n")
    return BuildResult(False, summary)

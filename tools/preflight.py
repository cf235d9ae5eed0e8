"""Preflight: what CloudFormation would get, linted before any account sees it (`make preflight`).

For each config-env of samconfig.toml (dev, stg, prd), with that env's parameter overrides:
1. translate template.yaml with aws-sam-translator (the SAM transform CloudFormation runs), the
   parameters' defaults set to the env's values, into .aws-sam/preflight/<env>.json;
2. cfn-lint it with the serverless rules (cfn-lint-serverless: async failure destinations, log
   retention, tracing, ...);
3. checkov it (framework cloudformation), skipping only the checks in tools/checkov-skips.yaml, each with
   its reason.
Prints progress and a summary; exits 1 on any finding, 2 when a tool is missing.

Usage: python tools/preflight.py [--checkov PATH] [ENV ...]
"""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml
from boto3.session import Session
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
ENVS = ("dev", "stg", "prd")
OUT = ROOT / ".aws-sam" / "preflight"
SKIPS_FILE = ROOT / "tools" / "checkov-skips.yaml"
MAX_SKIPS = 12
# The translator refuses local paths (sam build uploads them); any S3 URI stands in, as sam validate does.
STAND_IN_URI = "s3://path2prod-preflight/code.zip"


def overrides_of(env: str) -> tuple[dict[str, str], str]:
    """The env's parameter overrides and region from samconfig.toml."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    deploy = config.get(env, {}).get("deploy", {}).get("parameters", {})
    if "parameter_overrides" not in deploy:
        raise SystemExit(f"preflight: samconfig.toml has no [{env}.deploy.parameters] parameter_overrides")
    pairs = (item.split("=", 1) for item in shlex.split(deploy["parameter_overrides"]))
    return {key: value for key, value in pairs}, deploy.get("region", "eu-west-1")


def translate(env: str) -> Path:
    """template.yaml through the SAM transform with env's overrides; the CloudFormation JSON's path."""
    overrides, region = overrides_of(env)
    template = yaml_parse((ROOT / "template.yaml").read_text())
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = STAND_IN_URI
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = STAND_IN_URI
    translator = Translator(
        managed_policy_map=None,
        sam_parser=Parser(),
        plugins=[],
        boto_session=Session(region_name=region),
    )
    translated: dict[str, Any] = translator.translate(
        sam_template=copy.deepcopy(template), parameter_values=dict(overrides)
    )
    # The linters read a template alone: the env's values become the defaults they evaluate.
    for name, value in overrides.items():
        translated["Parameters"][name]["Default"] = value
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{env}.json"
    path.write_text(json.dumps(translated, indent=1, sort_keys=True))
    return path


def cfn_lint(path: Path, ignored: dict[str, str]) -> list[str]:
    """cfn-lint findings (with the serverless rules), one line each."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "parseable",
            "--append-rules",
            "cfn_lint_serverless.rules",
            "--ignore-checks",
            *ignored,
            "--",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 2, 4, 6, 8, 10, 12, 14):  # bit flags of findings; others are crashes
        raise SystemExit(f"preflight: cfn-lint failed on {path}:\n{result.stderr}")
    return [line for line in result.stdout.splitlines() if line.strip()]


def skips(tool: str) -> dict[str, str]:
    """Check id -> reason for `tool`, from the committed skip list; a skip without a reason is refused."""
    listed = (yaml.safe_load(SKIPS_FILE.read_text()) or {}).get(tool) or {}
    missing = [check for check, reason in listed.items() if not str(reason or "").strip()]
    if missing:
        raise SystemExit(f"preflight: {SKIPS_FILE.name}: give a reason for {', '.join(missing)}")
    if tool == "checkov" and len(listed) > MAX_SKIPS:
        raise SystemExit(
            f"preflight: {SKIPS_FILE.name} skips {len(listed)} checkov checks; at most {MAX_SKIPS}"
        )
    return {str(check): str(reason) for check, reason in listed.items()}


def checkov(path: Path, binary: str, skipped: dict[str, str]) -> list[str]:
    """checkov's failed checks on the translated template, one line each."""
    result = subprocess.run(
        [
            binary,
            "-f",
            str(path),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--compact",
            "--quiet",
            "--skip-download",
            "--skip-check",
            ",".join(skipped),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise SystemExit(f"preflight: checkov gave no report for {path}:\n{result.stderr[-2000:]}") from error
    reports = report if isinstance(report, list) else [report]
    return [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for one in reports
        for check in one.get("results", {}).get("failed_checks", [])
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("envs", nargs="*", metavar="ENV", help="dev, stg or prd (default: all three)")
    parser.add_argument("--checkov", default=shutil.which("checkov"), help="the checkov executable")
    args = parser.parse_args()
    unknown = set(args.envs) - set(ENVS)
    if unknown:
        parser.error(f"unknown env {', '.join(sorted(unknown))}: choose from {', '.join(ENVS)}")
    if not args.checkov or not Path(args.checkov).exists():
        print("preflight: checkov not found (make preflight installs it into .venv-checkov)", file=sys.stderr)
        return 2
    skipped, ignored = skips("checkov"), skips("cfn-lint")
    print(
        f"preflight: skipping {len(skipped)} checkov checks and {len(ignored)} cfn-lint rules"
        f" ({SKIPS_FILE.relative_to(ROOT)}, each with its reason)"
    )
    findings: dict[str, list[str]] = {}
    for env in args.envs or ENVS:
        print(f"preflight: {env}: translating template.yaml with samconfig.toml's overrides", flush=True)
        path = translate(env)
        print(f"preflight: {env}: cfn-lint + serverless rules on {path.relative_to(ROOT)}", flush=True)
        findings[f"{env} cfn-lint"] = cfn_lint(path, ignored)
        print(f"preflight: {env}: checkov", flush=True)
        findings[f"{env} checkov"] = checkov(path, args.checkov, skipped)
    print("\npreflight summary")
    for name, lines in findings.items():
        print(f"  {name:<14} {len(lines)} finding{'s' if len(lines) != 1 else ''}")
        for line in lines:
            print(f"    {line}")
    total = sum(len(lines) for lines in findings.values())
    print(f"preflight: {'FAILED, ' + str(total) + ' findings' if total else 'passed, 0 findings'}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())

"""Refuses to deploy an env whose samconfig.toml still holds placeholders (`make deploy` runs it first).

A placeholder account id (one digit twelve times: 111111111111, ...) would be trusted as a real account:
the bus policy, the roles' trust and the forwarding target would name it. Example.com approvers would
never get their prompts. And the three envs must share one region. One line per problem, naming the
parameter; exit 1 when there is any.

Usage: python tools/check_samconfig.py ENV
"""

from __future__ import annotations

import re
import shlex
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENVS = ("dev", "stg", "prd")
PLACEHOLDER_ACCOUNT = re.compile(r"(\d)\1{11}")


def problems(env: str, config: dict[str, object]) -> list[str]:
    """What stops `env` from being deployed as configured, one line each."""

    def deploy_of(name: str) -> dict[str, str]:
        section = config.get(name, {})
        return section.get("deploy", {}).get("parameters", {}) if isinstance(section, dict) else {}

    deploy = deploy_of(env)
    if not deploy:
        return [f"samconfig.toml has no [{env}.deploy.parameters]"]
    overrides = dict(item.split("=", 1) for item in shlex.split(deploy.get("parameter_overrides", "")))
    found = []
    for name in ("PreviousAccountId", "NextAccountId"):
        if PLACEHOLDER_ACCOUNT.fullmatch(overrides.get(name, "")):
            found.append(f"[{env}] {name}={overrides[name]} is a placeholder: set the real account id")
    approvers = [a for a in overrides.get("Approvers", "").split(",") if a.lower().endswith("@example.com")]
    if approvers:
        found.append(f"[{env}] Approvers names example.com addresses ({', '.join(approvers)}): set real ones")
    if "CAPABILITY_NAMED_IAM" not in deploy.get("capabilities", ""):
        found.append(f"[{env}] capabilities lacks CAPABILITY_NAMED_IAM (the template names IAM roles)")
    regions = {name: deploy_of(name).get("region") for name in ENVS if deploy_of(name)}
    if len(set(regions.values())) > 1:
        found.append(f"[{env}] region differs between envs ({regions}): all three stacks share one region")
    path_region = overrides.get("PathRegion")
    if path_region and deploy.get("region") and path_region != deploy["region"]:
        found.append(f"[{env}] PathRegion={path_region} but region={deploy['region']}: make them one")
    return found


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in ENVS:
        print(f"usage: {sys.argv[0]} {'|'.join(ENVS)}", file=sys.stderr)
        return 2
    env = sys.argv[1]
    found = problems(env, tomllib.loads((ROOT / "samconfig.toml").read_text()))
    for line in found:
        print(f"make deploy: {line} (samconfig.toml; see docs/deploy.md)", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

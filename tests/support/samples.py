"""Sample events by name: the project's own (events/) and AWS's documented ones, made to fit a stack.

AWS's samples live outside the checkout, in `../shared/aws-events/` (CI keeps `../shared` beside it).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = ROOT / "events"
AWS_EVENTS_DIR = ROOT.parent / "shared" / "aws-events"
COMMIT = re.compile(r"[0-9a-f]{40}")


def load_event(name: str) -> dict[str, Any]:
    """One of the project's sample events, by file name without `.json` (e.g. "pipeline-started")."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    return event


def real_commits(sample: dict[str, Any]) -> dict[str, Any]:
    """AWS's pages write commit ids as placeholders ("8cf40fEXAMPLE", "commit_ID"); a real event carries
    40 hex digits, and the handlers refuse anything else. Each placeholder becomes the SHA-1 of its own
    text (so equal placeholders stay equal); every other field, and the shape, stay exactly AWS's."""
    sample = copy.deepcopy(sample)

    def real(value: Any) -> Any:
        return hashlib.sha1(str(value).encode()).hexdigest() if not COMMIT.fullmatch(str(value)) else value

    detail = sample.get("detail")
    if isinstance(detail, dict):
        trigger = detail.get("execution-trigger")
        if isinstance(trigger, dict) and "commit-id" in trigger:
            trigger["commit-id"] = real(trigger["commit-id"])
        result = detail.get("execution-result")
        category = (detail.get("type") or {}).get("category")
        if isinstance(result, dict) and category == "Source" and "external-execution-id" in result:
            result["external-execution-id"] = real(result["external-execution-id"])
    execution = sample.get("pipelineExecution")
    if isinstance(execution, dict):
        for revision in execution.get("artifactRevisions", []):
            revision["revisionId"] = real(revision["revisionId"])
    return sample


def readdressed(sample: dict[str, Any], *, account: str, region: str, pipeline: str) -> dict[str, Any]:
    """An AWS sample event as it would reach the stack of (account, region, pipeline): same shape."""
    event = copy.deepcopy(sample)
    event["account"], event["region"] = account, region
    event["resources"] = [f"arn:aws:codepipeline:{region}:{account}:{pipeline}"]
    event["detail"]["pipeline"] = pipeline
    if "region" in event["detail"]:
        event["detail"]["region"] = region
    return event

"""Cold import: each `functions/*/app.py` against a bare `import boto3`, in fresh interpreters given the
environment Lambda gives the function, with what Lambda's runtime lacks hidden (the gated `lambda` mode)
or not (`venv`, reported only); and one `-X importtime` run each, to name what the time goes to.

The figure is the import's own CPU time (`time.process_time()` in the child), not wall clock: on a
shared machine wall clock counts the time other processes hold the CPU, and `make bench` failed five
runs in six on it (issue 13). CPU time still varies with caches and frequency, hence medians of 15
and baseline and handlers interleaved round after round.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import ACCOUNT, FUNCTIONS_DIR, REGION, ROOT
from path2prod.sandbox.template import load_template

RUNS = 15
IMPORT_RATIO_TARGET = 1.5
IMPORTTIME_TOP = 8
LAYER_DIR = ROOT / "layers" / "path2prod"  # the layer's code: /opt/python in Lambda

# What the Lambda python3.13 runtime (/var/runtime: boto3, botocore, s3transfer, jmespath, dateutil,
# six, urllib3) and the layer (aws-lambda-powertools[tracer]) do not ship, but this venv has through
# aws-sam-cli and friends. botocore imports awscrt and urllib3's pyOpenSSL shim when they are there,
# and X-Ray's patch_all() patches (so imports) requests when it is there: all three change both the
# baseline and the handler, so the "lambda" mode hides them from both.
NOT_IN_LAMBDA = ("awscrt", "_awscrt", "OpenSSL", "requests")

MODES = {
    "lambda": "venv minus what Lambda lacks (" + ", ".join(NOT_IN_LAMBDA) + "): gated",
    "venv": "this venv as installed: reported, not gated (its boto3 loads awscrt, Lambda's does not)",
}
GATED_MODES = ("lambda",)

_HIDE_PRELUDE = """
import sys
class _NotInLambda:
    hidden = {hidden!r}
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.hidden:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _NotInLambda())
"""

# sys.path as Lambda builds it: the function's code, then the layer, then the runtime's packages (here,
# the venv's). The layer goes first also so that a worktree measures its own path2prod, not the one
# the venv has installed in editable mode. Wall time is printed for the record, not gated.
_TIMED_IMPORT = """
import sys, time
sys.path[:0] = [{path!r}, {layer!r}]
c0, w0 = time.process_time(), time.perf_counter()
import {module}
c1, w1 = time.process_time(), time.perf_counter()
print("BENCH_IMPORT_SECONDS", c1 - c0, w1 - w0)
"""

# Values Lambda would hold that no import reads (Refs to resources, credentials): placeholders.
_PLACEHOLDER = "bench-placeholder"


@dataclass(frozen=True)
class Subject:
    """One thing to import in a fresh interpreter: the boto3 baseline or a handler module."""

    name: str  # "boto3" or the function's name
    module: str
    path: Path
    mode: str


def discover_functions() -> list[Path]:
    return sorted(app.parent for app in FUNCTIONS_DIR.glob("*/app.py"))


def tracing_available() -> bool:
    return importlib.util.find_spec("aws_xray_sdk") is not None


def template_variables(function: str) -> dict[str, str]:
    """The environment template.yaml gives the function in `functions/<function>` (the Globals' and its
    own variables); values CloudFormation would resolve (Refs, Subs) become placeholders, since no
    import reads them, but POWERTOOLS_* and other literals are the template's own."""
    template = load_template()
    variables: dict[str, Any] = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and properties.get("CodeUri") == (
            f"functions/{function}"
        ):
            variables.update(properties.get("Environment", {}).get("Variables", {}))
    return {name: value if isinstance(value, str) else _PLACEHOLDER for name, value in variables.items()}


def lambda_env(function: str, *, tracing: bool) -> dict[str, str]:
    """The environment Lambda gives a function of template.yaml (or, for "boto3", any function: the
    Globals' variables only), as far as importing is concerned."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "POWERTOOLS_", "LAMBDA_", "_X_AMZN", "_HANDLER", "PATH2PROD_", "TZ"))
    }
    task_root = FUNCTIONS_DIR / function if function != "boto3" else FUNCTIONS_DIR
    # Lambda's reserved variables (docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html).
    env.update(
        _HANDLER="app.handler",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.13",
        AWS_LAMBDA_FUNCTION_NAME=f"path2prod-{function}",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/path2prod-{function}",
        AWS_LAMBDA_LOG_STREAM_NAME="2026/01/01/[$LATEST]bench",
        AWS_LAMBDA_RUNTIME_API="127.0.0.1:9001",
        # Powertools' Tracer only traces inside Lambda, which it recognises by LAMBDA_TASK_ROOT.
        LAMBDA_TASK_ROOT=str(task_root),
        LAMBDA_RUNTIME_DIR=str(task_root),
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID=_PLACEHOLDER,
        AWS_SECRET_ACCESS_KEY=_PLACEHOLDER,
        AWS_SESSION_TOKEN=_PLACEHOLDER,
        AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
        AWS_XRAY_DAEMON_ADDRESS="169.254.79.129:2000",
        TZ=":UTC",
    )
    env.update(template_variables(function))  # for "boto3", no function matches: the Globals' only
    env.update(ACCOUNT_ID=ACCOUNT, PATH2PROD_ENV="dev")
    if not tracing:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def child_code(subject: Subject, *, hidden: tuple[str, ...]) -> str:
    prelude = _HIDE_PRELUDE.format(hidden=hidden) if subject.mode == "lambda" else ""
    timed = _TIMED_IMPORT.format(path=str(subject.path), layer=str(LAYER_DIR), module=subject.module)
    return prelude + timed


def run_child(subject: Subject, *, tracing: bool, hidden: tuple[str, ...], importtime: bool = False) -> str:
    """Import the subject in a fresh isolated interpreter; return its stdout (or stderr for importtime)."""
    command = [sys.executable, "-I"]
    if importtime:
        command += ["-X", "importtime"]
    command += ["-c", child_code(subject, hidden=hidden)]
    done = subprocess.run(
        command,
        cwd=subject.path,
        env=lambda_env(subject.name, tracing=tracing),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {subject.module} from {subject.path} failed:\n{done.stderr[-3000:]}")
    return done.stderr if importtime else done.stdout


def timed_import(subject: Subject, *, tracing: bool, hidden: tuple[str, ...]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one import of the subject in a fresh interpreter."""
    for line in run_child(subject, tracing=tracing, hidden=hidden).splitlines():
        if line.startswith("BENCH_IMPORT_SECONDS "):
            cpu, wall = line.split()[1:3]
            return float(cpu), float(wall)
    raise RuntimeError(f"importing {subject.module}: the child printed no timing")


@dataclass
class ImportResult:
    function: str
    mode: str
    handler_seconds: list[float]  # CPU time, one per fresh interpreter
    boto3_seconds: list[float]
    handler_wall_median: float = 0.0  # for the record: wall clock counts other processes' time too
    boto3_wall_median: float = 0.0
    handler_median: float = 0.0
    boto3_median: float = 0.0
    ratio: float = 0.0
    target: float = IMPORT_RATIO_TARGET
    gated: bool = True
    ok: bool = False

    def finish(self, handler_wall: list[float], boto3_wall: list[float]) -> ImportResult:
        self.handler_median = statistics.median(self.handler_seconds)
        self.boto3_median = statistics.median(self.boto3_seconds)
        self.handler_wall_median = statistics.median(handler_wall)
        self.boto3_wall_median = statistics.median(boto3_wall)
        self.ratio = self.handler_median / self.boto3_median
        self.ok = self.ratio <= self.target or not self.gated
        return self


def measure_imports(
    functions: list[Path], *, runs: int, tracing: bool, hidden: tuple[str, ...], modes: tuple[str, ...]
) -> list[ImportResult]:
    """Interleave baseline and handler imports, round after round, so machine noise hits all alike."""
    subjects = []
    for mode in modes:
        subjects.append(Subject("boto3", "boto3", FUNCTIONS_DIR, mode))
        subjects += [Subject(path.name, "app", path, mode) for path in functions]
    for subject in subjects:  # warm-up, discarded: fills the page cache and writes missing .pyc files
        timed_import(subject, tracing=tracing, hidden=hidden)
    cpu: dict[Subject, list[float]] = defaultdict(list)
    wall: dict[Subject, list[float]] = defaultdict(list)
    for round_number in range(runs):
        order = subjects if round_number % 2 == 0 else list(reversed(subjects))
        for subject in order:
            cpu_seconds, wall_seconds = timed_import(subject, tracing=tracing, hidden=hidden)
            cpu[subject].append(cpu_seconds)
            wall[subject].append(wall_seconds)
    results = []
    for mode in modes:
        baseline = Subject("boto3", "boto3", FUNCTIONS_DIR, mode)
        for path in functions:
            handler = Subject(path.name, "app", path, mode)
            result = ImportResult(path.name, mode, cpu[handler], cpu[baseline], gated=mode in GATED_MODES)
            results.append(result.finish(wall[handler], wall[baseline]))
    return results


@dataclass
class ImportTimeLine:
    module: str
    cumulative_ms: float
    self_ms: float = 0.0
    via: str | None = None
    via_ms: float | None = None


@dataclass
class PackageCost:
    package: str
    self_ms: float


@dataclass
class ImportTimeReport:
    function: str
    mode: str
    total_ms: float
    top_imports: list[ImportTimeLine]  # the handler module's own imports, by cumulative time
    top_packages: list[PackageCost]  # own time summed per top-level package, within the handler's import


def parse_importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """`-X importtime` lines as (name, depth, self_us, cumulative_us) in the order Python prints them."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name_field = line.split(":", 1)[1].split("|", 2)
        name_field = name_field[1:] if name_field.startswith(" ") else name_field
        depth = (len(name_field) - len(name_field.lstrip(" "))) // 2
        rows.append((name_field.strip(), depth, int(self_us), int(cumulative_us)))
    return rows


def importtime_report(
    subject: Subject, *, tracing: bool, hidden: tuple[str, ...], top: int = IMPORTTIME_TOP
) -> ImportTimeReport:
    rows = parse_importtime(run_child(subject, tracing=tracing, hidden=hidden, importtime=True))
    # Python prints children before their parent: the handler is the last top-level `app` row and its
    # import tree is every row after the previous top-level row.
    end = max(i for i, row in enumerate(rows) if row[0] == subject.module and row[1] == 0)
    start = max((i for i in range(end) if rows[i][1] == 0), default=-1) + 1
    tree = rows[start:end]
    direct = []
    for i, (name, depth, self_us, cumulative_us) in enumerate(tree):
        if depth != 1:
            continue
        children_start = max((j for j in range(i) if tree[j][1] <= 1), default=-1) + 1
        children = [row for row in tree[children_start:i] if row[1] == 2]
        heaviest = max(children, key=lambda row: row[3], default=None)
        direct.append(
            ImportTimeLine(
                name,
                cumulative_us / 1000,
                self_us / 1000,
                heaviest[0] if heaviest else None,
                heaviest[3] / 1000 if heaviest else None,
            )
        )
    per_package: dict[str, int] = defaultdict(int)
    for name, _, self_us, _ in tree:
        per_package[name.partition(".")[0]] += self_us
    heaviest_packages = sorted(per_package.items(), key=lambda kv: -kv[1])
    return ImportTimeReport(
        function=subject.name,
        mode=subject.mode,
        total_ms=rows[end][3] / 1000,
        top_imports=sorted(direct, key=lambda line: -line.cumulative_ms)[:top],
        top_packages=[PackageCost(name, us / 1000) for name, us in heaviest_packages[:top]],
    )

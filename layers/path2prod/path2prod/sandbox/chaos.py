"""The sandbox's fault injection ("chaos"): what `local up --chaos` and `local chaos` set.

    drop=0.3,dup=0.2,delay=5s,throttle=0.1,seed=7      (any subset; `off` or "" = none)

Applied where AWS itself loses, repeats, delays or refuses things (docs/sandbox-vs-aws.md):
- drop, dup, delay: by each function's runtime (lambda_runtime.py), to the events a rule delivered to
  it (not to scheduled events, not to the pipeline's CodePipeline job): a dropped `aws.codepipeline`
  event is lost (CodePipeline's events are best effort), any other is parked in the env's dead-letter
  queue as EventBridge parks an event whose retries to a target ran out; a duplicated event is delivered
  twice; a delayed one is held a random 0..delay (so events also arrive out of order).
- throttle: by the emulator (throttle.py), to DynamoDB requests signed with a function role's
  credentials: ProvisionedThroughputExceededException, which boto3 retries itself as it would in AWS.

The daemon writes the setting to HOME/run/chaos.json (`ChaosFile`), which each runtime re-reads when it
changes; every action is one JSON line in HOME/logs/chaos.jsonl (`ChaosLog`), which `local chaos --json`
totals. With `seed`, each process draws from its own generator seeded by the seed and its role (e.g.
`dev/recorder`), so the same events get the same fates run after run; timing still varies (what arrives
in one receive, the order runtimes run in), so runs are alike, not identical.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from path2prod.domain.time import format_time, utc_now

MAX_DELAY_SECONDS = 300.0
_KEYS = ("drop", "dup", "delay", "throttle", "seed")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)(ms|s|m)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


class ChaosAction(StrEnum):
    """What chaos did to one delivery or request (the `action` of a chaos.jsonl line)."""

    DROPPED = "dropped"  # an aws.codepipeline event, lost
    PARKED = "parked"  # any other event, parked in the env's dead-letter queue
    DUPLICATED = "duplicated"
    DELAYED = "delayed"
    THROTTLED = "throttled"  # a DynamoDB request


@dataclass(frozen=True)
class Chaos:
    """A chaos setting: probabilities (0..1) of dropping, duplicating and throttling, a maximum delay."""

    drop: float = 0.0
    dup: float = 0.0
    delay_seconds: float = 0.0
    throttle: float = 0.0
    seed: int | None = None

    @classmethod
    def parse(cls, text: str) -> Chaos:
        """`drop=0.3,dup=0.2,delay=5s,throttle=0.1,seed=7` (any subset); "" or `off` is no chaos.

        Raises ValueError with a one-line message naming the part it refuses."""
        text = text.strip()
        if text.lower() in ("", "off"):
            return cls()
        values: dict[str, Any] = {}
        seen: set[str] = set()
        for part in (piece.strip() for piece in text.split(",")):
            key, equals, value = (s.strip() for s in part.partition("="))
            if not equals or not key or not value:
                raise ValueError(f"chaos part {part!r}: expected KEY=VALUE (keys: {', '.join(_KEYS)})")
            if key not in _KEYS:
                raise ValueError(f"chaos part {part!r}: unknown key {key!r} (keys: {', '.join(_KEYS)})")
            if key in seen:
                raise ValueError(f"chaos part {part!r}: {key} is given twice")
            seen.add(key)
            if key == "delay":
                values["delay_seconds"] = _duration(part, value)
            elif key == "seed":
                if not value.isdigit():
                    raise ValueError(f"chaos part {part!r}: a seed is a whole number")
                values["seed"] = int(value)
            else:
                values[key] = _probability(part, key, value)
        return cls(**values)

    def __str__(self) -> str:
        """The canonical text, which `parse` reads back: `off` when there is no chaos."""
        parts = [
            f"drop={self.drop:g}" if self.drop else "",
            f"dup={self.dup:g}" if self.dup else "",
            f"delay={_duration_text(self.delay_seconds)}" if self.delay_seconds else "",
            f"throttle={self.throttle:g}" if self.throttle else "",
        ]
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return ",".join(part for part in parts if part) or "off"

    @property
    def active(self) -> bool:
        """Whether it changes anything (a seed alone does not)."""
        return bool(self.drop or self.dup or self.delay_seconds or self.throttle)

    def random_for(self, role: str) -> random.Random:
        """This process's generator: from `seed` and `role` (e.g. `dev/recorder`) when seeded."""
        # A str seed goes through SHA-512 (random.seed version 2): the same in every process and run.
        return random.Random(f"{self.seed}/{role}") if self.seed is not None else random.Random()

    def as_dict(self) -> dict[str, Any]:
        return {
            "chaos": str(self),
            "drop": self.drop,
            "dup": self.dup,
            "delay_seconds": self.delay_seconds,
            "throttle": self.throttle,
            "seed": self.seed,
        }


def _probability(part: str, key: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0.0 <= number <= 1.0:  # also refuses nan
        raise ValueError(f"chaos part {part!r}: {key} is a probability between 0 and 1")
    return number


def _duration(part: str, value: str) -> float:
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"chaos part {part!r}: a delay is seconds, e.g. 5s, 500ms, 2m or 5")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_DELAY_SECONDS:
        raise ValueError(f"chaos part {part!r}: a delay is at most {MAX_DELAY_SECONDS:.0f}s")
    return round(seconds, 3)


def _duration_text(seconds: float) -> str:
    whole = seconds >= 1 and seconds == round(seconds)
    return f"{seconds:g}s" if whole else f"{round(seconds * 1000):g}ms"


def rule_delivered(event: Any) -> bool:
    """Whether a rule delivered `event` (what chaos applies to): not a scheduled event, nor the job
    CodePipeline sends a function it invokes."""
    if not isinstance(event, dict):
        return False
    return "CodePipeline.job" not in event and event.get("source") != "aws.scheduler"


def env_and_function(role_or_function_name: str) -> tuple[str, str]:
    """`path2prod-dev-recorder` (a function's name and its role's) -> ("dev", "recorder")."""
    _, _, rest = role_or_function_name.partition("path2prod-")
    env, _, function = rest.partition("-")
    return (env, function) if function else ("", role_or_function_name)


class ChaosFile:
    """HOME/run/chaos.json: the current setting and where to log, written by the daemon, read by runtimes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, chaos: Chaos, log: Path) -> None:
        """Replace the file (write, then rename: a reader never sees half of it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps({"chaos": str(chaos), "log": str(log)}))
        os.replace(temporary, self.path)


class ChaosReader:
    """A runtime's view of the chaos file: re-read when it changed (one os.stat a call), with this
    process's generator, re-seeded when the setting changes."""

    def __init__(self, path: Path | None, env: str, function: str) -> None:
        self.path, self.env, self.function = path, env, function
        self.role = f"{env}/{function}"
        self.chaos = Chaos()
        self.random = self.chaos.random_for(self.role)
        self.log: ChaosLog | None = None
        self._seen: tuple[int, int] | None = None

    def current(self) -> Chaos:
        """The setting now in force (no chaos without a file, or with one that cannot be read)."""
        if self.path is None:
            return self.chaos
        try:
            stat = self.path.stat()
        except OSError:
            stat = None
        seen = (stat.st_ino, stat.st_mtime_ns) if stat else None
        if seen != self._seen:
            self._seen = seen
            self._load(self.path)
        return self.chaos

    def _load(self, path: Path) -> None:
        chaos, log = Chaos(), None
        try:
            content = json.loads(path.read_text())
            chaos = Chaos.parse(str(content.get("chaos", "")))
            log = ChaosLog(Path(content["log"])) if content.get("log") else None
        except (OSError, ValueError, AttributeError) as error:
            print(f"chaos: cannot read {path} ({error}); no chaos", flush=True)
        if chaos != self.chaos:
            self.random = chaos.random_for(self.role)
            print(f"chaos: {chaos}", flush=True)
        self.chaos, self.log = chaos, log

    def record(self, action: ChaosAction, **details: Any) -> None:
        """Count one action in the chaos log (when the daemon named one)."""
        if self.log is not None:
            self.log.record(action, env=self.env, function=self.function, **details)


class ChaosLog:
    """HOME/logs/chaos.jsonl: one short JSON line per action, appended (O_APPEND: lines from several
    processes do not interleave)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, action: ChaosAction, *, env: str, function: str, **details: Any) -> None:
        line = {"time": format_time(utc_now()), "action": str(action), "env": env, "function": function}
        data = (json.dumps({**line, **details}) + "\n").encode()
        with self._lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(descriptor, data)
            finally:
                os.close(descriptor)

    def totals(self) -> dict[str, Any]:
        """How many of each action, in all and per env/function."""
        overall: Counter[str] = Counter()
        per_function: dict[str, Counter[str]] = {}
        try:
            lines = self.path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            lines = []
        for text in lines:
            try:
                line = json.loads(text)
                action, where = str(line["action"]), f"{line['env']}/{line['function']}"
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash
            overall[action] += 1
            per_function.setdefault(where, Counter())[action] += 1
        return {
            "total": {action.value: overall[action.value] for action in ChaosAction},
            "by_function": {where: dict(counts) for where, counts in sorted(per_function.items())},
        }

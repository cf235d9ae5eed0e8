"""The sandbox daemon restarts a function's runtime when it exits; each start opens the runtime's log.

Defect 7: the daemon never closed those handles. CPython's finalizer happened to close each when the
starting method returned, with a ResourceWarning ("unclosed file"); any reference kept to the file (a
traceback, another interpreter's collector) held the descriptor for as long as the daemon ran. The test
asserts both: no descriptor of the log stays open, and none is left for the finalizer to close."""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from path2prod.sandbox import runtimes
from path2prod.sandbox.home import SandboxConfig, SandboxHome
from path2prod.sandbox.runtimes import Runtimes

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")


@dataclass(frozen=True)
class _CrashingFunction:
    """A function whose handler cannot be loaded: its runtime exits at once, as a crashing one does."""

    code_dir: Path
    name: str = "crashing"
    handler: str = "missing.handler"
    function_url: bool = False
    every_seconds: float | None = None

    def runs_in(self, env: str) -> bool:
        return env == "dev"

    def environment(self, *_: Any, **__: Any) -> dict[str, str]:
        return {}

    def rule_patterns(self, refs: dict[str, str]) -> dict[str, dict[str, Any]]:
        return {}


@dataclass
class _Account:
    account_id: str = "111111111111"

    def assume(self, role_name: str, session: str) -> dict[str, str]:
        return {"AccessKeyId": "role", "SecretAccessKey": "role", "SessionToken": "role"}

    def aws_environment(self, credentials: dict[str, str] | None = None) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "eu-west-1"}


@dataclass
class _Names:
    parameters: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)


@dataclass
class _Provisioning:
    """The part of the provisioned accounts a runtime reads: its account, its names and its queues."""

    accounts: dict[str, _Account] = field(default_factory=lambda: {"dev": _Account()})
    queues: dict[tuple[str, str], str] = field(default_factory=lambda: {("dev", "crashing"): "queue-url"})
    dead_letter_queues: dict[str, str] = field(default_factory=lambda: {"dev": "dead-letters-url"})

    def names(self, env: str) -> _Names:
        return _Names()


def _open_handles(path: Path) -> int:
    """How many of this process's descriptors point at `path`."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listdir itself used, closed meanwhile
            count += os.readlink(f"/proc/self/fd/{fd}") == str(path)
    return count


def test_restarting_a_runtime_leaves_no_log_handle_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a function whose runtime exits as soon as it starts
    home = SandboxHome(tmp_path / "sandbox")
    home.logs_dir.mkdir(parents=True)
    function = _CrashingFunction(code_dir=tmp_path)
    monkeypatch.setattr(runtimes, "FUNCTIONS", (function,))
    running = Runtimes(home, SandboxConfig(), _Provisioning())  # type: ignore[arg-type]
    log = home.logs_dir / "dev-crashing.log"

    # WHEN the daemon starts it, then restarts it three times after it exits
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        running.start("dev", function)  # type: ignore[arg-type]
        for _ in range(3):
            running.processes[("dev", "crashing")].wait(timeout=60)
            running.restart_exited()
        running.processes[("dev", "crashing")].wait(timeout=60)

    # THEN every run wrote to the log, and the daemon holds none of the four handles it opened
    assert log.stat().st_size > 0
    assert log.read_text(errors="replace").count("Traceback") == 4
    assert _open_handles(log) == 0
    assert [str(w.message) for w in caught if str(log) in str(w.message)] == []

"""Starting, stopping and waiting for the sandbox daemon (what `path2prod local` calls)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from path2prod import ENVS
from path2prod.sandbox.errors import SandboxError
from path2prod.sandbox.home import SandboxHome
from path2prod.sandbox.template import TEMPLATE_VARIABLE

START_TIMEOUT = 90.0


def start(
    home: SandboxHome,
    progress: Callable[[str], None] = lambda _: None,
    *,
    approvers: dict[str, list[str]] | None = None,
    quorum: dict[str, int] | None = None,
    windows: dict[str, str] | None = None,
    gate: dict[str, str] | None = None,
    bake_minutes: dict[str, int] | None = None,
    bake_alarms: dict[str, list[str]] | None = None,
    template: Path | None = None,
    reconcile_seconds: int | None = None,
    chaos: str | None = None,
) -> bool:
    """Start the sandbox in the background and return once it is ready; False if it already ran.

    `approvers`, `quorum`, `gate`, `bake_minutes` and `bake_alarms` (per env) change the sandbox's
    Approvers / ApprovalQuorum / GateMode / BakeMinutes / BakeAlarmNames parameters, `windows` its
    DeployWindows; `reconcile_seconds` how often the reconciler runs (ReconcileMinutes, in seconds);
    `template` builds the accounts from that template.yaml (and its functions/) instead of the
    checkout's; `chaos` (a canonical chaos text, chaos.py) sets its fault injection. The daemon gets none
    of the caller's AWS_* variables: its profile and keys never reach the sandbox, its functions or its
    builds.
    """
    if home.daemon_state() is not None:
        if approvers or quorum or gate or bake_minutes or bake_alarms or reconcile_seconds:
            raise SandboxError(
                "the sandbox is running: stop it (path2prod local down) to change its approvers, gate, "
                "bake watch or reconcile period"
            )
        if windows:
            raise SandboxError("the sandbox is running: change a deploy window with path2prod local window")
        if chaos is not None:
            raise SandboxError("the sandbox is running: change its chaos with path2prod local chaos SPEC")
        return False
    if subprocess.run(["git", "--version"], capture_output=True, check=False).returncode != 0:
        raise SandboxError("git is not installed; the sandbox's repos are git repositories")
    config = home.create_config(
        approvers=approvers,
        quorum=quorum,
        windows=windows,
        gate=gate,
        bake_minutes=bake_minutes,
        bake_alarms=bake_alarms,
        reconcile_seconds=reconcile_seconds,
        chaos=chaos,
    )
    home.logs_dir.mkdir(parents=True, exist_ok=True)
    progress(f"starting the sandbox in {home.path} (AWS endpoint 127.0.0.1:{config.aws_port})")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    if template is not None:
        if not template.is_file():
            raise SandboxError(f"--template {template}: no such file")
        environment[TEMPLATE_VARIABLE] = str(template.resolve())
    with (home.logs_dir / "daemon.out").open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "path2prod.sandbox.daemon", "--home", str(home.path)],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SandboxError(f"the sandbox failed to start: {_last_error(home)} (logs in {home.logs_dir})")
        if home.daemon_state() is not None and control_status(home) is not None:
            return True
        time.sleep(0.2)
    process.terminate()
    raise SandboxError(f"the sandbox did not become ready in {START_TIMEOUT:.0f} s (logs in {home.logs_dir})")


def stop(
    home: SandboxHome, *, drain_timeout: float = 120.0, progress: Callable[[str], None] = lambda _: None
) -> bool:
    """Let running pipelines and events finish, then stop; state stays on disk. False if not running."""
    state = home.daemon_state()
    if state is None:
        return False
    try:
        wait_idle(home, timeout=drain_timeout, progress=progress)
    except SandboxError as error:
        progress(f"{error}; stopping anyway")
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if home.daemon_state() is None:
            return True
        time.sleep(0.2)
    raise SandboxError(f"the sandbox (pid {pid}) did not stop in 90 s")


def set_window(home: SandboxHome, env: str, text: str) -> bool:
    """Change env's DeployWindows parameter, as a stack update would: kept in sandbox.json and, when the
    sandbox runs, its functions that read it restarted with the new value. True when it was running."""
    config = home.set_windows(env, text)
    if home.daemon_state() is None:
        return False
    url = home.control_url(config) + "/reconfigure"
    request = urllib.request.Request(url, method="POST")  # noqa: S310 - our own 127.0.0.1 URL
    try:
        with urllib.request.urlopen(request, data=b"", timeout=60):  # noqa: S310 - our own 127.0.0.1 URL
            return True
    except (urllib.error.URLError, OSError) as error:
        raise SandboxError(f"the sandbox did not take the new window: {error}") from error


def set_chaos(home: SandboxHome, text: str) -> dict[str, Any] | None:
    """Change the sandbox's fault injection (`text`: a canonical chaos text): kept in sandbox.json and,
    when the sandbox runs, put in force by its daemon (what it answers; None when it is not running)."""
    config = home.set_chaos(text)
    if home.daemon_state() is None:
        return None
    request = urllib.request.Request(  # noqa: S310 - our own 127.0.0.1 URL
        home.control_url(config) + "/chaos",
        data=json.dumps({"chaos": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own 127.0.0.1 URL
            applied: dict[str, Any] = json.loads(response.read())
            return applied
    except urllib.error.HTTPError as error:
        raise SandboxError(
            f"the sandbox refused the chaos setting: {error.read().decode(errors='replace')}"
        ) from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise SandboxError(f"the sandbox did not take the chaos setting: {error}") from error


def control_status(home: SandboxHome) -> dict[str, Any] | None:
    """The running daemon's view (idle, pipelines, pending events), or None when it does not answer."""
    url = home.control_url(home.load_config()) + "/status"
    try:
        with urllib.request.urlopen(url, timeout=15) as response:  # noqa: S310 - our own 127.0.0.1 URL
            status: dict[str, Any] = json.loads(response.read())
            return status
    except (urllib.error.URLError, OSError, ValueError):
        return None


def wait_idle(home: SandboxHome, *, timeout: float, progress: Callable[[str], None] = lambda _: None) -> None:
    """Block until no pipeline runs and no event waits for a function; raise SandboxError on timeout."""
    if home.daemon_state() is None:
        raise SandboxError(f"the sandbox at {home.path} is not running")
    deadline = time.monotonic() + timeout
    idle_in_a_row = 0
    last_note = ""
    while time.monotonic() < deadline:
        status = control_status(home)
        if status is None:
            # A busy machine can make one status call time out; only a gone daemon is an error.
            if home.daemon_state() is None:
                raise SandboxError("the sandbox stopped answering")
            time.sleep(0.5)
            continue
        # Two idle readings in a row: an event put on a bus between two looks is not missed.
        idle_in_a_row = idle_in_a_row + 1 if status["idle"] else 0
        if idle_in_a_row >= 2:
            return
        note = _busy_note(status)
        if note and note != last_note:
            progress(note)
            last_note = note
        time.sleep(0.3)
    raise SandboxError(f"the sandbox was still busy after {timeout:.0f} s")


def wait_reconciled(
    home: SandboxHome, *, timeout: float, progress: Callable[[str], None] = lambda _: None
) -> None:
    """Block until every env's reconciler has finished a run that began after everything up to now was
    older than its LIVE_GRACE (so it looked at all of it); SandboxError on timeout. Each run ends with
    one "reconciled" line in HOME/logs/ENV-reconciler.log, stamped by Powertools' Logger."""
    from path2prod.domain.reconcile import LIVE_GRACE

    # A run that ends this late began after the grace: runs take well under this margin.
    after = datetime.now(UTC) + LIVE_GRACE + timedelta(seconds=3)
    progress(f"waiting for a reconcile run in every env after {after:%H:%M:%S} UTC")
    deadline = time.monotonic() + timeout
    waiting = list(ENVS)
    while True:
        waiting = [env for env in waiting if (_last_reconciled(home, env) or after) <= after]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise SandboxError(f"no reconcile run in {', '.join(waiting)} within {timeout:.0f} s")
        time.sleep(1)


def _last_reconciled(home: SandboxHome, env: str) -> datetime | None:
    """When env's reconciler last finished a run, from its log's last "reconciled" line."""
    log = home.logs_dir / f"{env}-reconciler.log"
    try:
        with log.open("rb") as file:  # its tail: the log grows by a few lines a run
            file.seek(max(0, file.seek(0, os.SEEK_END) - 65536))
            lines = file.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        if '"message":"reconciled"' in line:
            try:
                stamp = json.loads(line)["timestamp"]
                return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f%z")
            except (ValueError, KeyError, TypeError):
                continue
    return None


def _busy_note(status: dict[str, Any]) -> str:
    running = [env for env, pipeline in status["pipelines"].items() if pipeline["busy"]]
    pending = [name for name, count in status["pending_events"].items() if count]
    parts = []
    if running:
        parts.append("pipeline running in " + ", ".join(running))
    if pending:
        parts.append("events pending for " + ", ".join(pending))
    return "; ".join(parts)


def _last_error(home: SandboxHome) -> str:
    for name in ("daemon.out", "daemon.log"):
        path = home.logs_dir / name
        if path.is_file():
            lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
            if lines:
                return lines[-1][:300]
    return "no log written"

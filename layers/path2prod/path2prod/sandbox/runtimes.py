"""The functions' runtimes: one process per function and env, under the function's own role, with
its output appended to HOME/logs/ENV-FUNCTION.log, restarted when it exits."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from path2prod import ENVS
from path2prod.sandbox.accounts import function_role_name, without_aws_settings
from path2prod.sandbox.functions import FUNCTIONS, SandboxFunction
from path2prod.sandbox.home import SandboxConfig, SandboxHome, free_port
from path2prod.sandbox.provisioning import Provisioning
from path2prod.sandbox.template import rule_state

log = logging.getLogger("path2prod.sandbox")
# A redrive's one-shot run of a handler (Lambda's own timeout is the template's; the sandbox's handlers
# finish in seconds).
INVOKE_TIMEOUT_SECONDS = 60


class Runtimes:
    """Every function's runtime process in every env it runs in, and the approval pages' ports."""

    def __init__(self, home: SandboxHome, config: SandboxConfig, provisioning: Provisioning) -> None:
        self.home, self.config, self.provisioning = home, config, provisioning
        self.processes: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
        self.page_ports: dict[str, int] = {}  # env -> its approval page's own port (its Function URL)
        # restart_exited (the daemon's loop) and restart_reading (the control API) must not both start
        # a runtime for one that stopped.
        self._restarting = threading.Lock()

    def start_all(self) -> None:
        """A runtime for each function in each env its stack deploys it to."""
        for env in ENVS:
            for function in FUNCTIONS:
                if function.runs_in(env):
                    self.start(env, function)

    def restart_exited(self) -> None:
        """Lambda starts a new runtime when one dies: so does the sandbox."""
        with self._restarting:
            self._restart_exited()

    def _restart_exited(self) -> None:
        for (env, name), process in list(self.processes.items()):
            if process.poll() is not None:
                log.warning("%s/%s runtime exited with %s; restarting it", env, name, process.returncode)
                self.start(env, next(f for f in FUNCTIONS if f.name == name))

    def restart_reading(self, variable: str) -> list[tuple[str, str]]:
        """Start again every runtime whose function's template environment sets `variable`, so it reads
        the sandbox's new value; an event it was handling is delivered again (SQS visibility)."""
        restarted = []
        with self._restarting:
            for (env, name), process in list(self.processes.items()):
                function = next(f for f in FUNCTIONS if f.name == name)
                if not function.sets(variable):
                    continue
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                self.start(env, function)
                restarted.append((env, name))
        return restarted

    def stop(self) -> None:
        """Terminate every runtime; kill those still running after 10 s."""
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def _overrides(self, env: str, function: SandboxFunction) -> dict[str, str]:
        """Settings whose AWS value has no meaning here: repositories are local bare repositories,
        the page is served on 127.0.0.1, and the !Join / !Sub / !GetAtt values are stated here."""
        upstream = self.config.upstream(env)
        if function.name == "rollback":
            # The template's AutoRollback=auto: on for stg and prd, off for dev.
            return {
                "REPOSITORY_URL": str(self.home.repo(env)),
                "AUTO_ROLLBACK": "false" if env == "dev" else "true",
            }
        if upstream is None:
            return {}
        # UPSTREAM_READ_ROLE_ARN keeps the template's value: the upstream account's promotion-source
        # role, which _create_roles made there, and which the function's own role may assume.
        if function.name == "approvals":
            return {
                "APPROVERS": ",".join(self.config.approvers.get(env, [])),
                "APPROVAL_PAGE_URL": self.config.approvals_url(env),
                "REPOSITORY_URL": str(self.home.repo(env)),
                "UPSTREAM_REPOSITORY_URL": str(self.home.repo(upstream)),
            }
        if function.name == "promoter":
            return {
                "REPOSITORY_URL": str(self.home.repo(env)),
                "UPSTREAM_REPOSITORY_URL": str(self.home.repo(upstream)),
            }
        return {}

    def environment(self, env: str, function: SandboxFunction) -> dict[str, str]:
        """What env's function runs with: its template environment (Refs resolved, sandbox overrides), the
        credentials of its own role, and, apart (SANDBOX_*, removed before the handler loads), the
        operator's credentials its runtime polls with and the stack's dead-letter queue. The long-lived
        runtime and the one-shot run of `dlq redrive` (invoke_once) get the same."""
        account = self.provisioning.accounts[env]
        name = function_role_name(env, function)
        names = self.provisioning.names(env)
        return {
            **{k: v for k, v in without_aws_settings(os.environ).items() if not k.startswith("POWERTOOLS_")},
            **function.environment(
                names.parameters,
                self._overrides(env, function),
                attributes=names.attributes,
                conditions=names.conditions,
            ),
            **account.aws_environment(account.assume(name, name)),
            **{f"SANDBOX_POLLER_{key}": value for key, value in account.aws_environment().items()},
            "SANDBOX_ACCOUNT_ID": account.account_id,
            "SANDBOX_DEAD_LETTER_QUEUE_URL": self.provisioning.dead_letter_queues[env],
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, env: str, function: SandboxFunction) -> None:
        """Run env's function under its own role's credentials; the runtime's own SQS polling (Lambda's
        event source mapping) keeps the operator's, passed apart and removed before the handler loads."""
        environment = self.environment(env, function)
        if function.function_url:
            port = self.page_ports.setdefault(env, free_port(avoid=self._ports_in_use()))
            runtime = ["path2prod.sandbox.function_url", str(function.code_dir), function.handler, str(port)]
        else:
            # The sandbox's chaos (chaos.py): the daemon's setting, and the rules chaos may drop an
            # event of, named in a dead letter's RULE_ARN.
            environment["SANDBOX_CHAOS_FILE"] = str(self.home.chaos_file)
            environment["SANDBOX_QUEUE_RULES"] = json.dumps(self._queue_rules(env, function))
            runtime = [
                "path2prod.sandbox.lambda_runtime",
                str(function.code_dir),
                function.handler,
                self.provisioning.queues[(env, function.name)],
            ]
        self.processes[(env, function.name)] = spawn(
            [sys.executable, "-m", *runtime],
            environment=environment,
            log_path=self.home.logs_dir / f"{env}-{function.name}.log",
            cwd=function.code_dir,
        )

    def _queue_rules(self, env: str, function: SandboxFunction) -> dict[str, dict[str, object]]:
        """The rules that feed env's function's queue (provisioning.py creates them so), each by its ARN,
        with the `source` and `detail-type` of its pattern."""
        names = self.provisioning.names(env)
        account = self.provisioning.accounts[env].account_id
        rules: dict[str, dict[str, object]] = {}
        for rule_event, pattern in function.rule_patterns(names.parameters).items():
            if rule_state(function.logical_id, rule_event, names.resolve) == "DISABLED":
                continue
            arn = f"arn:aws:events:{self.config.region}:{account}:rule/path2prod-{function.name}-{rule_event}"
            rules[arn] = {key: pattern[key] for key in ("source", "detail-type") if key in pattern}
        return rules

    def invoke_once(self, env: str, function_name: str, event: Any) -> dict[str, Any]:
        """Run env's function's handler once with `event`, as a synchronous Invoke would, in a process of
        its own (sandbox/invoke.py) with its runtime's environment; its log lines go to the function's
        log. {"ok": true, "result"} or {"ok": false, "error_type", "error_message"}."""
        function = next((f for f in FUNCTIONS if f.name == function_name), None)
        if function is None or not function.runs_in(env) or function.function_url:
            return _failed("UnknownFunction", f"{env} has no function {function_name!r} to invoke")
        log_path = self.home.logs_dir / f"{env}-{function.name}.log"
        try:
            with log_path.open("ab") as log_file:
                completed = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "path2prod.sandbox.invoke",
                        str(function.code_dir),
                        function.handler,
                    ],
                    input=json.dumps(event).encode(),
                    env=self.environment(env, function),
                    stdout=subprocess.PIPE,
                    stderr=log_file,
                    cwd=function.code_dir,
                    timeout=INVOKE_TIMEOUT_SECONDS,
                    check=False,
                )
        except subprocess.TimeoutExpired:
            return _failed("Timeout", f"{env}/{function.name} ran longer than {INVOKE_TIMEOUT_SECONDS} s")
        try:
            answer: dict[str, Any] = json.loads(completed.stdout)
        except ValueError:
            return _failed(
                "Runtime.ExitError", f"the runtime exited with {completed.returncode} (see {log_path})"
            )
        return answer

    def wait_for_pages(self, timeout: float = 60.0) -> None:
        """Ready means a link opens: wait until every approval page's server accepts connections."""
        deadline = time.monotonic() + timeout
        for env, port in self.page_ports.items():
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the {env} approval page did not start (see its log)") from None
                    time.sleep(0.1)

    def _ports_in_use(self) -> set[int]:
        config = self.config
        return {config.aws_port, config.control_port, config.approvals_port, *self.page_ports.values()}


def _failed(error_type: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error_type": error_type, "error_message": message}


def spawn(
    command: list[str], *, environment: dict[str, str], log_path: Path, cwd: Path
) -> subprocess.Popen[bytes]:
    """Start `command` with its output appended to `log_path`. The child holds its own copy of the
    log's descriptor: the daemon's is closed at once, or each restart would leak one."""
    with log_path.open("ab") as log_file:
        return subprocess.Popen(command, env=environment, stdout=log_file, stderr=subprocess.STDOUT, cwd=cwd)

"""The sandbox daemon: emulated accounts, local pipelines and Lambda runtimes, in the background.

Started by `path2prod local up` as `python -m path2prod.sandbox.daemon --home DIR`; stopped by SIGTERM
(`path2prod local down`), after which every piece of state is on disk for the next start. Each job has
its module: provisioning (the accounts from template.yaml), runtimes (the functions' processes),
http_front (approval pages and the control API), scheduler and mail; this one starts and stops them.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from path2prod import ENVS
from path2prod.domain.time import format_time, utc_now
from path2prod.sandbox.bus_policies import enforce_bus_policies
from path2prod.sandbox.chaos import Chaos, ChaosAction, ChaosFile, ChaosLog
from path2prod.sandbox.emulator import Emulator, enforce_iam
from path2prod.sandbox.home import SandboxConfig, SandboxHome, free_port
from path2prod.sandbox.http_front import serve_approval_pages, serve_control
from path2prod.sandbox.mail import deliver_mail
from path2prod.sandbox.pipeline import LocalPipeline
from path2prod.sandbox.pipeline_gate import LocalGate, entry_rule
from path2prod.sandbox.provisioning import Provisioning
from path2prod.sandbox.roles import BOOTSTRAP_ACCESS_KEYS
from path2prod.sandbox.runtimes import Runtimes
from path2prod.sandbox.scheduler import Scheduler
from path2prod.sandbox.snapshots import Snapshots
from path2prod.sandbox.template import load_template
from path2prod.sandbox.throttle import throttle_dynamodb

log = logging.getLogger("path2prod.sandbox")
SNAPSHOT_SECONDS = 1.0


class Sandbox:
    """The daemon's parts, started in order and stopped in reverse."""

    def __init__(self, home: SandboxHome) -> None:
        self.home = home
        self.config = home.load_config()
        self.endpoint = home.aws_endpoint_url(self.config)
        self.emulator = Emulator(self.config.aws_port)
        self.snapshots = Snapshots(home.data_dir, self.config.region)
        self.provisioning = Provisioning(home, self.config, self.endpoint, self.snapshots)
        self.runtimes = Runtimes(home, self.config, self.provisioning)
        self.scheduler = Scheduler(self.provisioning, self.config.region)
        self.pipelines: dict[str, LocalPipeline] = {}
        self.approvals_front: ThreadingHTTPServer | None = None
        self.control: ThreadingHTTPServer | None = None
        self.stopping = threading.Event()

    def _gate(self, env: str) -> LocalGate | None:
        """env's Build stage entry condition, when its template pipeline has one (stg, prd)."""
        rule = entry_rule(self.provisioning.names(env))
        queue = self.provisioning.queues.get((env, "gate"))
        if rule is None or queue is None:
            return None
        account = self.provisioning.accounts[env]
        return LocalGate(rule, account=account.account_id, sqs_client=account.client("sqs"), queue_url=queue)

    # -- start -----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Emulator, accounts, runtimes, approval pages, pipelines, control API; then the state file the
        CLI waits for."""
        enforce_iam(BOOTSTRAP_ACCESS_KEYS)
        enforce_bus_policies()
        self.emulator.start()
        self.apply_chaos(self.config.chaos)
        load_template()  # fail early, before anything runs, if the template cannot be read
        # Bound before the runtimes start, whose environment names the pages' URL: a port taken since
        # `local up` picked it (another sandbox starting beside this one) is replaced, not fatal.
        self.approvals_front = serve_on_its_port(
            self.home,
            self.config,
            "approvals_port",
            lambda port: serve_approval_pages(port, self.runtimes.page_ports),
        )
        self.control = serve_on_its_port(
            self.home,
            self.config,
            "control_port",
            lambda port: serve_control(
                port, self.status, self.reconfigure, chaos=self.apply_chaos, invoke=self.invoke
            ),
        )
        self.provisioning.provision()
        self.runtimes.start_all()
        self.runtimes.wait_for_pages()
        for env in ENVS:
            account = self.provisioning.accounts[env]
            pipeline = LocalPipeline(
                env=env,
                account=account.account_id,
                region=self.config.region,
                name=self.config.pipeline,
                repo=self.home.repo(env),
                work_dir=self.home.work_dir(env),
                logs_dir=self.home.logs_dir,
                marks_file=self.home.data_dir / "pipelines.json",
                broken_flag=self.home.broken_flag(env),
                events_client=account.client("events"),
                codepipeline_client=account.client("codepipeline"),
                build_environment=account.aws_environment(),
                gate=self._gate(env),
            )
            self.pipelines[env] = pipeline
            pipeline.start()
        self.home.write_daemon_state(
            {
                "pid": os.getpid(),
                "started_at": format_time(utc_now()),
                "aws_endpoint_url": self.endpoint,
                "control_url": self.home.control_url(self.config),
            }
        )
        log.info("sandbox ready at %s", self.endpoint)

    # -- running ---------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Idle or not, each pipeline's run, and the events waiting for each function."""
        pending = {}
        for (env, name), queue in self.provisioning.queues.items():
            attributes = (
                self.provisioning.accounts[env]
                .client("sqs")
                .get_queue_attributes(
                    QueueUrl=queue,
                    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                )["Attributes"]
            )
            pending[f"{env}/{name}"] = sum(int(value) for value in attributes.values())
        pipelines = {
            env: {
                "busy": pipeline.busy,
                "running_execution": pipeline.running_execution,
                "last_run": pipeline.last_run,
            }
            for env, pipeline in self.pipelines.items()
        }
        idle = not any(p["busy"] for p in pipelines.values()) and not any(pending.values())
        return {"idle": idle, "pipelines": pipelines, "pending_events": pending}

    def reconfigure(self) -> dict[str, Any]:
        """sandbox.json's deploy windows changed (`path2prod local window`): as a stack update changes
        the functions' environment, the runtimes that read DEPLOY_WINDOWS start again with the new one."""
        self.config.windows = self.home.load_config().windows
        restarted = self.runtimes.restart_reading("DEPLOY_WINDOWS")
        return {"restarted": [f"{env}/{name}" for env, name in restarted]}

    def apply_chaos(self, text: str) -> dict[str, Any]:
        """Put the chaos setting `text` in force (chaos.py; `local chaos` saved it in sandbox.json): the
        functions' runtimes read the chaos file at their next receive, the emulator throttles at once."""
        chaos = Chaos.parse(text)  # ValueError: the control API answers 400
        self.config.chaos = str(chaos) if chaos != Chaos() else ""
        counts = ChaosLog(self.home.chaos_log)
        self.home.logs_dir.mkdir(parents=True, exist_ok=True)
        ChaosFile(self.home.chaos_file).write(chaos, self.home.chaos_log)

        def count(env: str, function: str, operation: str) -> None:
            counts.record(ChaosAction.THROTTLED, env=env, function=function, operation=operation)

        throttle_dynamodb(chaos.throttle, chaos.random_for("emulator"), count)
        log.info("chaos: %s", chaos)
        return {"chaos": str(chaos), **chaos.as_dict()}

    def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        """A function's handler run once with an event (`path2prod dlq redrive`), as a synchronous Invoke:
        request {"env", "function", "event"}; {"ok": true, "result"} or {"ok": false, "error_type",
        "error_message"}."""
        env, function = str(request["env"]), str(request["function"])
        if env not in self.provisioning.accounts:
            return {"ok": False, "error_type": "UnknownEnvironment", "error_message": f"no env {env!r}"}
        log.info("invoking %s/%s once", env, function)
        return self.runtimes.invoke_once(env, function, request["event"])

    def serve(self) -> None:
        """Every second until stopped: snapshot, fire schedules, deliver mail, restart dead runtimes."""
        while not self.stopping.wait(SNAPSHOT_SECONDS):
            self.save_tables()
            self.scheduler.run_due()
            deliver_mail(self.provisioning, self.home.mail_file)
            self.runtimes.restart_exited()

    def save_tables(self) -> None:
        """Snapshot each account's ledger table and checkpoint bucket to HOME/data."""
        provisioning = self.provisioning
        for env, account in provisioning.accounts.items():
            self.snapshots.save(account.account_id, self.config.ledger_table(env))
            self.snapshots.save_objects(
                account.account_id, self.config.checkpoint_bucket(env), provisioning.s3[env]
            )

    def stop(self) -> None:
        """Stop the pipelines (up to 60 s each) and the runtimes, save, stop serving; state stays on disk."""
        log.info("stopping")
        for pipeline in self.pipelines.values():
            pipeline.stopping.set()
        for pipeline in self.pipelines.values():
            pipeline.join(timeout=60)
        self.runtimes.stop()
        self.save_tables()
        if self.control:
            self.control.shutdown()
        if self.approvals_front:
            self.approvals_front.shutdown()
        self.emulator.stop()
        self.home.clear_daemon_state()
        log.info("stopped; state kept in %s", self.home.path)


def serve_on_its_port(
    home: SandboxHome, config: SandboxConfig, port_name: str, serve: Callable[[int], ThreadingHTTPServer]
) -> ThreadingHTTPServer:
    """`serve` on the config's `port_name`; when something took that port since `local up` picked it
    (another sandbox starting beside this one), on another free one, kept in sandbox.json (where the CLI
    reads the sandbox's URLs)."""
    for _ in range(5):
        try:
            return serve(getattr(config, port_name))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            taken = {config.aws_port, config.control_port, config.approvals_port}
            log.warning("%s %s is taken; picking another", port_name, getattr(config, port_name))
            setattr(config, port_name, free_port(avoid=taken))
            home.save_config(config)
    return serve(getattr(config, port_name))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="path2prod-sandbox-daemon")
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    home = SandboxHome(args.home)
    home.logs_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=home.logs_dir / "daemon.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    sandbox = Sandbox(home)
    signal.signal(signal.SIGTERM, lambda *_: sandbox.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: sandbox.stopping.set())
    try:
        sandbox.start()
        sandbox.serve()
    except Exception:
        log.exception("sandbox failed")
        raise
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()

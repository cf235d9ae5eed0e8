"""A sandbox's home folder: its configuration, its state and where everything lives.

HOME/sandbox.json        accounts, region, ports (written once, at the first `local up`)
HOME/run/daemon.json     pid and URLs while the sandbox runs
HOME/repos/<env>.git     each env's bare git repository: its `main` is what runs there
HOME/data/               emulated AWS state kept across down/up (ledger tables, pipeline marks)
HOME/logs/               daemon, functions and builds (and chaos.jsonl: what the sandbox's chaos did)
HOME/run/chaos.json      the chaos setting the functions' runtimes follow (chaos.py)
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from path2prod import ENVS
from path2prod.sandbox.errors import SandboxError
from path2prod.targets import EnvTarget, check_env

DEFAULT_ACCOUNTS = {"dev": "111111111111", "stg": "222222222222", "prd": "333333333333"}
REGION = "us-east-1"
PIPELINE_NAME = "path2prod-app"
SANDBOX_ROLE = "path2prod-sandbox"
DEFAULT_APPROVERS = ["alice@example.com", "bob@example.com"]
# The bake watch of stg and prd: shorter than the template's 30 minutes, so a newcomer's try fits in it.
# prd's bake time: long enough to set off an alarm by hand. stg has none by default: its bake time would
# hold every promotion to prd that long (docs/approvals.md); `local up --bake stg=MINUTES` sets one.
DEFAULT_BAKE_MINUTES = {"stg": 0, "prd": 15}
DEFAULT_BAKE_ALARMS = ["app-errors"]
# The reconciler's period here (`local up --reconcile-every`), and the periods that command accepts. Every
# 30 s, the three envs' reconcilers took an idle sandbox to 2.1 % of a core (bench/sandbox_idle.py).
DEFAULT_RECONCILE_SECONDS = 60
RECONCILE_SECONDS = (5, 3600)


@dataclass
class SandboxConfig:
    accounts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ACCOUNTS))
    region: str = REGION
    aws_port: int = 0
    control_port: int = 0
    pipeline: str = PIPELINE_NAME
    alert_email: str = "oncall@example.com"  # the AlertEmail subscription of every env's topic
    approvals_port: int = 0  # the approval pages of stg and prd, under /stg/ and /prd/
    # The Approvers and ApprovalQuorum stack parameters of each env that has an upstream.
    approvers: dict[str, list[str]] = field(
        default_factory=lambda: {env: list(DEFAULT_APPROVERS) for env in ENVS[1:]}
    )
    quorum: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENVS[1:], 1))
    # The DeployWindows stack parameter of stg and prd (domain/deploy_windows.py), `now` resolved.
    windows: dict[str, str] = field(default_factory=dict)
    # The GateMode stack parameter of each env that has an upstream (auto: enforce in prd, warn in stg).
    gate: dict[str, str] = field(default_factory=lambda: dict.fromkeys(ENVS[1:], "auto"))
    # The BakeMinutes and BakeAlarmNames stack parameters of each env (dev: none); each named alarm is
    # created in the env's CloudWatch (`path2prod local alarm` sets one off).
    bake_minutes: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_BAKE_MINUTES))
    bake_alarms: dict[str, list[str]] = field(
        default_factory=lambda: {env: list(DEFAULT_BAKE_ALARMS) for env in ENVS[1:]}
    )
    # How often the reconciler runs in each env (the ReconcileMinutes parameter, in seconds here).
    reconcile_seconds: int = DEFAULT_RECONCILE_SECONDS
    # Fault injection (chaos.py): `drop=0.3,dup=0.2,delay=5s,throttle=0.1`; "" is none.
    chaos: str = ""

    def ledger_table(self, env: str) -> str:
        return f"path2prod-{env}-ledger"

    def checkpoint_bucket(self, env: str) -> str:
        return f"path2prod-{env}-checkpoints-{self.accounts[env]}"

    def upstream(self, env: str) -> str | None:
        """The env whose successes are promoted into `env` (None for dev)."""
        index = ENVS.index(env)
        return ENVS[index - 1] if index > 0 else None

    def approvals_url(self, env: str | None = None) -> str:
        base = f"http://127.0.0.1:{self.approvals_port}"
        return f"{base}/{env}/" if env else base


class SandboxHome:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().resolve()

    # -- layout ---------------------------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.path / "sandbox.json"

    @property
    def daemon_file(self) -> Path:
        return self.path / "run" / "daemon.json"

    @property
    def mail_file(self) -> Path:
        return self.path / "mail.jsonl"

    @property
    def signing_keys_file(self) -> Path:
        """Each downstream env's approval-link key, kept so links mailed before a restart still work."""
        return self.data_dir / "signing-keys.json"

    def broken_flag(self, env: str) -> Path:
        """Present while `path2prod local break ENV` is in force: every build in ENV fails."""
        return self.data_dir / "broken" / env

    @property
    def chaos_file(self) -> Path:
        """The chaos setting in force, written by the daemon for the functions' runtimes."""
        return self.path / "run" / "chaos.json"

    @property
    def chaos_log(self) -> Path:
        """One JSON line per thing the sandbox's chaos did (chaos.py ChaosLog)."""
        return self.logs_dir / "chaos.jsonl"

    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    def repo(self, env: str) -> Path:
        return self.path / "repos" / f"{env}.git"

    def work_dir(self, env: str) -> Path:
        return self.path / "work" / env

    # -- configuration --------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.config_file.is_file()

    def load_config(self) -> SandboxConfig:
        if not self.exists():
            raise SandboxError(
                f"no sandbox at {self.path}; create it with: path2prod local up --home {self.path}"
            )
        try:
            return SandboxConfig(**json.loads(self.config_file.read_text()))
        except (ValueError, TypeError) as error:
            raise SandboxError(f"{self.config_file} is damaged: {error}") from error

    def create_config(
        self,
        *,
        approvers: dict[str, list[str]] | None = None,
        quorum: dict[str, int] | None = None,
        windows: dict[str, str] | None = None,
        gate: dict[str, str] | None = None,
        bake_minutes: dict[str, int] | None = None,
        bake_alarms: dict[str, list[str]] | None = None,
        reconcile_seconds: int | None = None,
        chaos: str | None = None,
    ) -> SandboxConfig:
        """Write sandbox.json on first use, picking free ports; later ups keep them when free.

        `approvers`, `quorum`, `windows`, `gate`, `bake_minutes` and `bake_alarms` (per env), and
        `reconcile_seconds`, replace what the sandbox had, as a stack update would; `chaos` (its
        canonical text) replaces the sandbox's fault injection.
        """
        config = self.load_config() if self.exists() else SandboxConfig()
        if chaos is not None:
            config.chaos = chaos
        config.approvers.update(approvers or {})
        config.quorum.update(quorum or {})
        config.windows.update(windows or {})
        config.gate.update(gate or {})
        config.bake_minutes.update(bake_minutes or {})
        config.bake_alarms.update(bake_alarms or {})
        if reconcile_seconds is not None:
            config.reconcile_seconds = reconcile_seconds
        for env in config.quorum:
            if not 1 <= config.quorum[env] <= len(config.approvers.get(env, [])):
                raise SandboxError(
                    f"quorum {config.quorum[env]} of {env} must be between 1 and its "
                    f"{len(config.approvers.get(env, []))} approvers"
                )
        if not _port_free(config.aws_port):
            config.aws_port = free_port()
        if not _port_free(config.control_port) or config.control_port == config.aws_port:
            config.control_port = free_port(avoid=config.aws_port)
        taken = {config.aws_port, config.control_port}
        if not _port_free(config.approvals_port) or config.approvals_port in taken:
            config.approvals_port = free_port(avoid=taken)
        self.path.mkdir(parents=True, exist_ok=True)
        _write_json(self.config_file, asdict(config))
        return config

    def save_config(self, config: SandboxConfig) -> None:
        """Write `config` as it is (the running daemon, after replacing a port that was taken)."""
        _write_json(self.config_file, asdict(config))

    def set_windows(self, env: str, text: str) -> SandboxConfig:
        """Change env's deploy windows only (the ports a running sandbox holds stay as they are)."""
        config = self.load_config()
        config.windows[env] = text
        _write_json(self.config_file, asdict(config))
        return config

    def set_chaos(self, text: str) -> SandboxConfig:
        """Change the sandbox's fault injection only (`path2prod local chaos`)."""
        config = self.load_config()
        config.chaos = text
        _write_json(self.config_file, asdict(config))
        return config

    # -- the running daemon ---------------------------------------------------------------------------
    def daemon_state(self) -> dict[str, Any] | None:
        """What the running daemon wrote about itself, or None when it is not running."""
        try:
            state: dict[str, Any] = json.loads(self.daemon_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        if not _pid_alive(int(state.get("pid", 0))):
            return None
        return state

    def write_daemon_state(self, state: dict[str, Any]) -> None:
        _write_json(self.daemon_file, state)

    def clear_daemon_state(self) -> None:
        self.daemon_file.unlink(missing_ok=True)

    # -- what the CLI needs ---------------------------------------------------------------------------
    def aws_endpoint_url(self, config: SandboxConfig) -> str:
        return f"http://127.0.0.1:{config.aws_port}"

    def control_url(self, config: SandboxConfig) -> str:
        return f"http://127.0.0.1:{config.control_port}"

    def target(self, env: str) -> EnvTarget:
        """How the CLI reaches env's emulated account: the same role-per-env path as against AWS."""
        check_env(env)
        config = self.load_config()
        if self.daemon_state() is None:
            raise SandboxError(
                f"the sandbox at {self.path} is not running; start it with: "
                f"path2prod local up --home {self.path}"
            )
        return EnvTarget(
            env=env,
            region=config.region,
            ledger_table=config.ledger_table(env),
            role_arn=f"arn:aws:iam::{config.accounts[env]}:role/{SANDBOX_ROLE}",
            endpoint_url=self.aws_endpoint_url(config),
            checkpoint_bucket=config.checkpoint_bucket(env),
            repository_url=str(self.repo(env)),
            alerts_topic_arn=f"arn:aws:sns:{config.region}:{config.accounts[env]}:path2prod-alerts",
            pipeline=config.pipeline,
        )

    def status(self) -> dict[str, Any]:
        config = self.load_config()
        running = self.daemon_state() is not None
        return {
            "running": running,
            "home": str(self.path),
            "aws_endpoint_url": self.aws_endpoint_url(config),
            "region": config.region,
            "control_url": self.control_url(config),
            "approvals_url": config.approvals_url(),
            "reconcile_seconds": config.reconcile_seconds,
            "chaos": config.chaos or "off",
            "envs": {
                env: {
                    "account_id": config.accounts[env],
                    "remote": str(self.repo(env)),
                    "pipeline": config.pipeline,
                    "ledger_table": config.ledger_table(env),
                    "checkpoint_bucket": config.checkpoint_bucket(env),
                    "bake_minutes": config.bake_minutes.get(env, 0),
                    "bake_alarms": config.bake_alarms.get(env, []),
                    **(
                        {
                            "approvals_url": config.approvals_url(env),
                            "approvers": config.approvers.get(env, []),
                            "quorum": config.quorum.get(env, 1),
                            "deploy_windows": config.windows.get(env, ""),
                            "gate": config.gate.get(env, "auto"),
                        }
                        if config.upstream(env)
                        else {}
                    ),
                }
                for env in ENVS
            },
        }


def sandbox_credentials_env() -> dict[str, str]:
    """Dummy credentials for talking to moto; the account is chosen by assuming a role."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }


def _write_json(path: Path, data: Any) -> None:
    # Write-then-rename: a crash never leaves a half-written file behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(temporary, path)


def write_json(path: Path, data: Any) -> None:
    _write_json(path, data)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_free(port: int) -> bool:
    if port <= 0:
        return False
    with socket.socket() as probe:
        # As the sandbox's servers bind (allow_reuse_address): a port a stopped sandbox left in
        # TIME_WAIT is free for them, so the endpoint, and the links already mailed, stay the same.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(avoid: int | set[int] = 0) -> int:
    avoided = avoid if isinstance(avoid, set) else {avoid}
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port not in avoided:
            return port

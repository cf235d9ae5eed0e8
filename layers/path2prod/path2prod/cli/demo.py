"""path2prod demo: the whole story in a throw-away sandbox, printed as it happens."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import click

from path2prod import ENVS
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.cli.ledger import format_entries
from path2prod.domain.errors import Path2ProdError
from path2prod.domain.ledger import LedgerEntry
from path2prod.sandbox import lifecycle, sample_app
from path2prod.sandbox.home import SandboxHome

DEMO_AUTHOR = {
    "GIT_AUTHOR_NAME": "Alice Example",
    "GIT_AUTHOR_EMAIL": "alice@example.com",
    "GIT_COMMITTER_NAME": "Alice Example",
    "GIT_COMMITTER_EMAIL": "alice@example.com",
}


class DemoFailed(Path2ProdError):
    """The demo's story did not happen as it should."""


@click.command()
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the sandbox in this folder (running) instead of throwing it away.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=90,
    show_default=True,
    help="Seconds to wait for each step's pipelines.",
)
def demo(keep: Path | None, timeout: float) -> None:
    """Run the story in a throw-away sandbox: a good commit to production, a commit that fails in dev,
    one that fails only in prd and is rolled back automatically; then the three ledgers."""
    workspace = Path(tempfile.mkdtemp(prefix="path2prod-demo-"))
    home = SandboxHome(keep or workspace / "sandbox")
    try:
        Story(home, workspace / "app", timeout).run()
    finally:
        if keep is None:
            step("cleaning up")
            if home.exists():
                lifecycle.stop(home, drain_timeout=0)
        shutil.rmtree(workspace, ignore_errors=True)
    if keep:
        click.echo(
            f"\nthe sandbox keeps running in {home.path}; stop it: path2prod local down --home {home.path}"
        )


class Story:
    def __init__(self, home: SandboxHome, app: Path, timeout: float) -> None:
        self.home, self.app, self.timeout = home, app, timeout

    def run(self) -> None:
        step(f"starting a sandbox with three emulated accounts in {self.home.path}")
        lifecycle.start(self.home, progress=note)
        git("clone", "--quiet", str(self.home.repo("dev")), str(self.app))
        git("checkout", "--quiet", "-B", "main", cwd=self.app)

        good = self.commit(sample_app.GOOD, "Add the greeting service")
        step(f"G = {good[:12]} 'Add the greeting service': pushed to dev, then promoted to stg and prd")
        for env in ENVS:
            self.push(good, env)
        self.expect(good, {"dev": "SUCCEEDED", "stg": "SUCCEEDED", "prd": "SUCCEEDED"})

        broken = self.commit(sample_app.BROKEN_IN_DEV, "Reword the greeting")
        step(f"F = {broken[:12]} 'Reword the greeting': pushed to dev, where its unit test fails")
        self.push(broken, "dev")
        self.expect(broken, {"dev": "FAILED"})

        risky = self.commit(sample_app.BROKEN_IN_PRD, "Excited greetings, configured per env")
        step(f"B = {risky[:12]} 'Excited greetings': passes dev and stg, fails prd's smoke test (no config)")
        for env in ENVS:
            self.push(risky, env)
        self.expect(risky, {"dev": "SUCCEEDED", "stg": "SUCCEEDED", "prd": "FAILED"})
        prd_main = git("--git-dir", str(self.home.repo("prd")), "rev-parse", "main").strip()
        rollbacks = [e for e in self.ledger("prd") if e.kind == "rollback" and e.from_commit == risky]
        if prd_main != good or not any(e.state == "SUCCEEDED" for e in rollbacks):
            raise DemoFailed(f"expected prd rolled back to {good[:12]}, its main is {prd_main[:12]}")
        note(f"path2prod rolled prd back by itself: main is G = {good[:12]} again, and G SUCCEEDED once more")

        for env in ENVS:
            step(f"the {env} ledger, newest first (path2prod ledger history {env})")
            click.echo(format_entries(env, self.ledger(env)))
        step("what the on-call mailbox received (path2prod local mail)")
        lines = self.home.mail_file.read_text().splitlines() if self.home.mail_file.exists() else []
        for line in lines:
            message = json.loads(line)
            click.echo(f"    {message['time'][:19]}  {message['to']}  {message['subject']}")

    def commit(self, files: dict[str, str], message: str) -> str:
        for name, content in files.items():
            (self.app / name).parent.mkdir(parents=True, exist_ok=True)
            (self.app / name).write_text(content)
        git("add", "--all", cwd=self.app)
        git("commit", "--quiet", "-m", message, cwd=self.app)
        return git("rev-parse", "HEAD", cwd=self.app).strip()

    def push(self, sha: str, env: str) -> None:
        note(f"git push {env} {sha[:12]}:main")
        git("push", "--quiet", "--force", str(self.home.repo(env)), f"{sha}:refs/heads/main", cwd=self.app)
        lifecycle.wait_idle(self.home, timeout=self.timeout, progress=lambda _: None)

    def ledger(self, env: str) -> list[LedgerEntry]:
        target = self.home.target(env)
        session = target.session()
        table = LedgerTable(target.ledger_table_name(session), target.client("dynamodb", session))
        return list(table.history(env))

    def expect(self, sha: str, outcomes: dict[str, str]) -> None:
        for env, state in outcomes.items():
            if not any(
                e.commit == sha and e.kind == "deployment" and e.state == state for e in self.ledger(env)
            ):
                raise DemoFailed(f"expected {sha[:12]} {state} in {env}'s ledger")
            note(f"{env}: {sha[:12]} {state}")


def git(*args: str, cwd: Path | None = None) -> str:
    completed = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **DEMO_AUTHOR},
        check=False,
    )
    if completed.returncode != 0:
        raise DemoFailed(f"git {args[0]} failed: {completed.stderr.strip().splitlines()[-1:]}")
    return completed.stdout


def step(message: str) -> None:
    click.echo(click.style("==> ", fg="cyan", bold=True) + message)


def note(message: str) -> None:
    click.echo(f"    {message}")

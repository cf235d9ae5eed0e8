"""path2prod demo: the whole story in a throw-away sandbox, printed as it happens."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import click

from path2prod.adapters.ledger_table import LedgerTable
from path2prod.cli.ledger import format_entries
from path2prod.domain.errors import Path2ProdError
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
    help="Seconds to wait for each pipeline run.",
)
def demo(keep: Path | None, timeout: float) -> None:
    """Run the story in a throw-away sandbox: a passing and a failing commit to dev, and the ledger."""
    workspace = Path(tempfile.mkdtemp(prefix="path2prod-demo-"))
    home = SandboxHome(keep or workspace / "sandbox")
    try:
        run_story(home, workspace / "app", timeout)
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


def run_story(home: SandboxHome, app: Path, timeout: float) -> None:
    step(f"starting a sandbox with three emulated accounts in {home.path}")
    lifecycle.start(home, progress=note)
    dev_remote = str(home.repo("dev"))

    step(f"cloning the dev repo ({dev_remote})")
    git("clone", "--quiet", dev_remote, str(app))
    git("checkout", "--quiet", "-B", "main", cwd=app)

    passing = commit(app, sample_app.PASSING, "Add the greeting service and its test")
    step(f"pushing {passing[:12]} 'Add the greeting service and its test' to dev (its test passes)")
    git("push", "--quiet", "origin", "main", cwd=app)
    lifecycle.wait_idle(home, timeout=timeout, progress=note)

    failing = commit(app, sample_app.FAILING, "Reword the greeting")
    step(f"pushing {failing[:12]} 'Reword the greeting' to dev (it breaks the test)")
    git("push", "--quiet", "origin", "main", cwd=app)
    lifecycle.wait_idle(home, timeout=timeout, progress=note)

    target = home.target("dev")
    session = target.session()
    entries = list(
        LedgerTable(target.ledger_table_name(session), target.client("dynamodb", session)).history("dev")
    )
    step("the dev ledger, newest first (path2prod ledger history dev)")
    click.echo(format_entries("dev", entries))

    outcomes = {(entry.commit, entry.state) for entry in entries}
    if (passing, "SUCCEEDED") not in outcomes or (failing, "FAILED") not in outcomes:
        raise DemoFailed(f"expected {passing[:12]} SUCCEEDED and {failing[:12]} FAILED in dev's ledger")
    click.echo(
        f"\n{passing[:12]} SUCCEEDED and {failing[:12]} FAILED in dev, recorded with nobody doing a thing."
    )


def commit(app: Path, files: dict[str, str], message: str) -> str:
    for name, content in files.items():
        (app / name).write_text(content)
    git("add", "--all", cwd=app)
    git("commit", "--quiet", "-m", message, cwd=app)
    return git("rev-parse", "HEAD", cwd=app).strip()


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

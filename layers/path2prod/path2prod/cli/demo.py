"""path2prod demo: the whole story in a throw-away sandbox, printed as it happens."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import click

from path2prod import ENVS
from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.cli.errors import DemoFailed
from path2prod.cli.ledger import format_entries
from path2prod.cli.local import approval_fields
from path2prod.domain.approvals import ApprovalRequest, ApprovalState
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.sandbox import lifecycle, sample_app
from path2prod.sandbox.home import SandboxHome

DEMO_AUTHOR = {
    "GIT_AUTHOR_NAME": "Alice Example",
    "GIT_AUTHOR_EMAIL": "alice@example.com",
    "GIT_COMMITTER_NAME": "Alice Example",
    "GIT_COMMITTER_EMAIL": "alice@example.com",
}

APPROVER = "bob@example.com"  # the sandbox's default approvers are alice and bob; alice writes the code


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
    """Run the story in a throw-away sandbox: a good commit to production, approved on the approval
    page at each step; a commit that fails in dev; one that fails only in prd and is rolled back
    automatically; one pushed straight to prd, which prd's gate stops before it builds; then the three
    ledgers."""
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
        step(f"G = {good[:12]} 'Add the greeting service' by alice: pushed to dev, promoted on approval")
        self.push(good, "dev")
        self.expect(good, {"dev": EntryState.SUCCEEDED})
        for env in ENVS[1:]:
            self.promote(good, env, show_author_refusal=env == "stg")
            self.expect(good, {env: EntryState.SUCCEEDED})

        broken = self.commit(sample_app.BROKEN_IN_DEV, "Reword the greeting")
        step(f"F = {broken[:12]} 'Reword the greeting': pushed to dev, where its unit test fails")
        self.push(broken, "dev")
        self.expect(broken, {"dev": EntryState.FAILED})
        note("a failed commit asks nobody: no approval request for F")

        risky = self.commit(sample_app.BROKEN_IN_PRD, "Excited greetings, configured per env")
        step(f"B = {risky[:12]} 'Excited greetings': passes dev and stg, fails prd's smoke test (no config)")
        self.push(risky, "dev")
        self.expect(risky, {"dev": EntryState.SUCCEEDED})
        self.promote(risky, "stg")
        self.expect(risky, {"stg": EntryState.SUCCEEDED})
        self.promote(risky, "prd")
        self.expect(risky, {"prd": EntryState.FAILED})
        prd_main = git("--git-dir", str(self.home.repo("prd")), "rev-parse", "main").strip()
        rollbacks = [e for e in self.ledger("prd") if e.kind == EntryKind.ROLLBACK and e.from_commit == risky]
        if prd_main != good or not any(e.state == EntryState.SUCCEEDED for e in rollbacks):
            raise DemoFailed(f"expected prd rolled back to {good[:12]}, its main is {prd_main[:12]}")
        note(f"path2prod rolled prd back by itself: main is G = {good[:12]} again, and G SUCCEEDED once more")

        self.push_straight_to_prd(good)

        for env in ENVS:
            step(f"the {env} ledger, newest first (path2prod ledger history {env})")
            click.echo(format_entries(env, self.ledger(env)))
        step("what the mailboxes received (path2prod local mail)")
        lines = self.home.mail_file.read_text().splitlines() if self.home.mail_file.exists() else []
        for line in lines:
            message = json.loads(line)
            click.echo(f"    {message['time'][:19]}  {message['to']}  {message['subject']}")

    def push_straight_to_prd(self, good: str) -> None:
        """A commit made in a clone of prd's own repo and pushed there: never through dev or stg, never
        approved. prd's gate (the Build stage's entry condition) stops it before it builds."""
        clone = self.app.parent / "prd-clone"
        git("clone", "--quiet", str(self.home.repo("prd")), str(clone))
        (clone / "HOTFIX.md").write_text("A quick fix, made straight in production.\n")
        git("add", "--all", cwd=clone)
        git("commit", "--quiet", "-m", "Hotfix made in prd's own clone", cwd=clone)
        straight = git("rev-parse", "HEAD", cwd=clone).strip()
        step(f"H = {straight[:12]} 'Hotfix made in prd's own clone': pushed straight to prd, not via stg")
        note(f"git push prd {straight[:12]}:main   (from a clone of prd's repo)")
        git("push", "--quiet", "origin", "HEAD:refs/heads/main", cwd=clone)
        lifecycle.wait_idle(self.home, timeout=self.timeout, progress=lambda _: None)
        refused = [e for e in self.ledger("prd") if e.kind == EntryKind.GATE and e.commit == straight]
        if not refused or refused[0].state != EntryState.REFUSED:
            raise DemoFailed(f"expected prd's gate to refuse {straight[:12]}, its ledger has {refused}")
        self.expect(straight, {"prd": EntryState.FAILED})
        note(f"prd's gate REFUSED H before its build: {refused[0].reason}")
        if (self.home.logs_dir / "builds" / f"{refused[0].execution_id}.log").exists():
            raise DemoFailed(f"expected no build of {straight[:12]} in prd, found its build log")
        note("no build ran: the execution FAILED at the Build stage's entry, and an alert was mailed")
        prd_main = git("--git-dir", str(self.home.repo("prd")), "rev-parse", "main").strip()
        if prd_main != good:
            raise DemoFailed(f"expected prd's main back at {good[:12]} after H failed, it is {prd_main[:12]}")
        note(
            f"H's execution FAILED, so path2prod rolled prd's main back to G = {good[:12]}, which runs again"
        )
        note("see it: path2prod audit provenance --env prd (H is listed BROKEN, refused by the gate)")

    def promote(self, sha: str, env: str, *, show_author_refusal: bool = False) -> None:
        """Answer env's request for `sha` on the approval page, as bob's browser would."""
        request = self.request_for(sha, env)
        note(f"{env}: request {request.id} PENDING; mail sent to {', '.join(request.approvers)}")
        wanted = [APPROVER, *([DEMO_AUTHOR["GIT_AUTHOR_EMAIL"]] if show_author_refusal else [])]
        links = self.links_of(request.id, wanted)
        if show_author_refusal:
            status, page = approve_on_page(links[DEMO_AUTHOR["GIT_AUTHOR_EMAIL"]])
            note(f"alice clicks Approve on her own commit: HTTP {status}, {page_message(page)}")
        status, page = approve_on_page(links[APPROVER])
        if status != 200:
            raise DemoFailed(f"{APPROVER}'s approval of {request.id} got HTTP {status}: {page_message(page)}")
        note(f"{APPROVER} opens his link (GET shows the commit) and clicks Approve (POST): HTTP {status}")
        note(f"path2prod pushes {sha[:12]} to {env}'s main")
        lifecycle.wait_idle(self.home, timeout=self.timeout, progress=lambda _: None)

    def request_for(self, sha: str, env: str) -> ApprovalRequest:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            target = self.home.target(env)
            session = target.session()
            store = ApprovalRequests(
                LedgerTable(target.ledger_table_name(session), target.client("dynamodb", session))
            )
            found = [
                r for r in store.recent(env, limit=10) if r.commit == sha and r.state == ApprovalState.PENDING
            ]
            if found and found[0].notified_at:
                return found[0]
            time.sleep(0.5)
        raise DemoFailed(f"no PENDING {env} request for {sha[:12]} within {self.timeout:.0f} s")

    def links_of(self, request_id: str, recipients: list[str]) -> dict[str, str]:
        """The recipients' links, once the sandbox has delivered their mail (SNS delivers after the
        request records its prompts as sent, so the mailbox is waited for, not assumed)."""
        deadline = time.monotonic() + self.timeout
        while True:
            links = self.links(request_id)
            if all(recipient in links for recipient in recipients):
                return links
            if time.monotonic() > deadline:
                missing = ", ".join(r for r in recipients if r not in links)
                raise DemoFailed(f"no mail about {request_id} reached {missing} within {self.timeout:.0f} s")
            time.sleep(0.3)

    def links(self, request_id: str) -> dict[str, str]:
        """Each recipient's link to the request, read from the sandbox's mailbox."""
        links: dict[str, str] = {}
        if not self.home.mail_file.exists():
            return links
        for line in self.home.mail_file.read_text().splitlines():
            mail = json.loads(line)
            fields = approval_fields(mail["body"])
            # A rejection notice names the request too, but carries no link.
            if fields.get("request_id") == request_id and "link" in fields:
                links[mail["to"]] = fields["link"]
        return links

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

    def expect(self, sha: str, outcomes: dict[str, EntryState]) -> None:
        for env, state in outcomes.items():
            if not any(
                e.commit == sha and e.kind == EntryKind.DEPLOYMENT and e.state == state
                for e in self.ledger(env)
            ):
                raise DemoFailed(f"expected {sha[:12]} {state} in {env}'s ledger")
            note(f"{env}: {sha[:12]} {state}")


class _Forms(HTMLParser):
    """The approval page's forms: each one's hidden fields and its submit button's name and value."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        fields = dict(attrs)
        if tag == "form":
            self.forms.append({})
        elif self.forms and fields.get("name") and (tag == "button" or fields.get("type") == "hidden"):
            self.forms[-1][str(fields["name"])] = fields.get("value") or ""


def approve_on_page(link: str) -> tuple[int, str]:
    """What a browser does: GET the link, then submit the form whose button says approve."""
    status, page = http("GET", link)
    if status != 200:
        return status, page
    parser = _Forms()
    parser.feed(page)
    form = next((f for f in parser.forms if f.get("decision") == "approve"), None)
    if form is None:
        raise DemoFailed(f"the page at {link} has no Approve button")
    return http("POST", link, urllib.parse.urlencode(form).encode())


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - the sandbox's 127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def page_message(page: str) -> str:
    """The first paragraph of a page, as text (what a person reads first)."""
    match = re.search(r"<p[^>]*>(.*?)</p>", page, re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip() if match else page[:80]


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

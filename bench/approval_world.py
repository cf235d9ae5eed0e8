"""The approval flow's world: stg's account in one scenario (ledger table, topics, signing secret and
settings), dev's and stg's git repositories, and what a warm Lambda container keeps between invocations.

Set up as tests/integration/test_approvals.py does: the ledger table from template.yaml, the approvals
and alerts topics, the link-signing secret, and real bare git repositories, dev's (upstream: commits by
Alice) and stg's (its main one commit behind). Settings are template.yaml's: its defaults for quorum,
expiry and fast-forwards, and the upstream read role set, as in every stack.
"""

from __future__ import annotations

import base64
import contextlib
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.common import LEDGER_TABLE, PIPELINE
from path2prod.domain.time import format_time, utc_now
from tests.support.git import git, make_repo
from tests.support.samples import load_event

APPROVAL_ENV = "stg"
APPROVERS = ("bob@example.com", "carol@example.com")
PAGE_URL = "https://bench0approval0page.lambda-url.us-east-1.on.aws/"
UPSTREAM_READ_ROLE = "arn:aws:iam::111111111111:role/path2prod-promotion-source"
SIGNING_SECRET = "bench-approval-link-signing-key"


@dataclass
class ApprovalWorld:
    """stg's account in one scenario, dev's repository, and the requests the approvals function opened."""

    upstream: Path  # dev's bare repository
    target: Path  # stg's bare repository
    features: list[str]  # dev's commits by Alice, oldest first; stg's main is the first one's parent
    settings: dict[str, str]  # the three functions' environment variables
    requests: Any  # ApprovalRequests on the set-up session (never counted)
    opened: list[str] = field(default_factory=list)

    def succeeded_upstream(self, feature: int) -> dict[str, Any]:
        """dev's "Deployment Succeeded" of a feature commit, forwarded to stg (the sample's shape)."""
        event = load_event("deployment-succeeded-forwarded")
        # Minutes ago (a request opens only for a recent success); the later commit succeeded later.
        at = format_time(utc_now() - timedelta(minutes=10 - feature))
        event["id"] = f"bench-forwarded-{feature}"
        event["time"] = at
        execution_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-exec-{feature}"))  # CodePipeline's shape
        event["detail"].update(commit=self.features[feature], execution_id=execution_id, time=at)
        return event

    def link(self, method: str, approver: str, decision: str | None = None) -> dict[str, Any]:
        """`approver`'s link to the newest request opened, as the Function URL passes a GET of it or a POST
        of its form (the samples of events/, with the token the approver's mail holds)."""
        from path2prod.domain.approval_tokens import make_token

        request = self.requests.get(self.opened[-1])
        token = make_token(SIGNING_SECRET.encode(), request.id, approver, request.expires_at)
        event = load_event(f"approval-page-{method.lower()}")
        event["rawQueryString"] = f"t={token}"
        event["queryStringParameters"] = {"t": token}
        if method == "POST":
            event["body"] = base64.b64encode(f"t={token}&decision={decision}".encode()).decode()
            event["isBase64Encoded"] = True
        return event

    def promotion_approved(self) -> dict[str, Any]:
        """The "Promotion Approved" the approval page announced for the newest request."""
        request = self.requests.get(self.opened[-1])
        event = load_event("promotion-approved")
        event["detail"].update(env=APPROVAL_ENV, request_id=request.id, commit=request.commit)
        return event

    def state_of(self, request_id: str) -> str:
        return str(self.requests.get(request_id).state.value)

    def target_main(self) -> str:
        return git("--git-dir", str(self.target), "rev-parse", "refs/heads/main")


def build_approval_world(session: Any, root: Path) -> ApprovalWorld:
    """Repositories, table, topics and secret; the AWS calls go through `session`, before any is counted."""
    from path2prod.adapters.approval_requests import ApprovalRequests
    from path2prod.adapters.ledger_table import LedgerTable
    from path2prod.sandbox.template import parameter_default, table_definition

    upstream, target = make_repo(root, "dev"), root / "stg.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(target))
    commits = [
        upstream.commit(message)
        for message in ("base: what runs everywhere", "feature: checkout in one click", "feature: receipts")
    ]
    upstream.publish()
    git("push", "--quiet", str(target), f"{commits[0]}:refs/heads/main", cwd=upstream.work)

    dynamodb = session.client("dynamodb")
    dynamodb.create_table(**table_definition(table_name=LEDGER_TABLE))
    sns = session.client("sns")
    secret = session.client("secretsmanager").create_secret(
        Name="path2prod-stg-approval-signing", SecretString=SIGNING_SECRET
    )
    settings = {
        "PATH2PROD_ENV": APPROVAL_ENV,
        "ACCOUNT_ID": "222222222222",
        "PIPELINE_NAME": PIPELINE,
        "PREVIOUS_ACCOUNT_ID": "111111111111",  # the forwarded sample's (dev's) account
        "LEDGER_TABLE": LEDGER_TABLE,
        "EVENT_BUS_NAME": "default",
        "APPROVERS": ",".join(APPROVERS),
        "APPROVAL_QUORUM": parameter_default("ApprovalQuorum"),
        "APPROVAL_EXPIRY_HOURS": parameter_default("ApprovalExpiryHours"),
        "APPROVAL_PAGE_URL": PAGE_URL,
        "SIGNING_SECRET_ID": secret["ARN"],
        "APPROVALS_TOPIC_ARN": sns.create_topic(Name="path2prod-stg-approvals")["TopicArn"],
        "UPSTREAM_REPOSITORY_URL": str(upstream.bare),
        # Set in every stack (dev's repository is another account's). With a local repository the
        # adapter assumes it all the same, so the count is what a deployed function makes.
        "UPSTREAM_READ_ROLE_ARN": UPSTREAM_READ_ROLE,
        "REPOSITORY_URL": str(target),
        "ALERTS_TOPIC_ARN": sns.create_topic(Name="path2prod-stg-alerts")["TopicArn"],
        "ALLOW_NON_FAST_FORWARD": parameter_default("AllowNonFastForward"),
    }
    requests = ApprovalRequests(LedgerTable(LEDGER_TABLE, dynamodb))
    return ApprovalWorld(upstream.bare, target, commits[1:], settings, requests)


@dataclass(frozen=True)
class Invocation:
    """One invocation of an approval function; `new_container` gives it a fresh Lambda container."""

    function: str  # "approvals", "approval_page" or "promoter"
    event: Callable[[ApprovalWorld], dict[str, Any]]  # built when it runs: it names an opened request
    new_container: bool = False


class Containers:
    """What a warm Lambda container keeps, per function: the handler's cached wiring (settings and
    clients), Powertools' cached secret (process-wide here, so swapped in and out) and /tmp (the git
    fetch cache; one folder per container). A function's first invocation starts its container."""

    def __init__(self, root: Path, handler_for: Callable[[str], ModuleType]) -> None:
        from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

        self.root = root
        self.handler_for = handler_for
        self.providers = DEFAULT_PROVIDERS  # Powertools' providers, each with its cache
        self.kept: dict[str, dict[str, Any]] = {}
        self.tmp: dict[str, Path] = {}
        self.started = 0
        self.saved_tempdir = tempfile.tempdir

    def enter(self, invocation: Invocation) -> ModuleType:
        module = self.handler_for(invocation.function)
        if invocation.new_container or invocation.function not in self.kept:
            module.approvals.cache_clear()
            self.started += 1
            self.kept[invocation.function] = {}
            self.tmp[invocation.function] = self.root / f"tmp-{self.started}-{invocation.function}"
            self.tmp[invocation.function].mkdir()
        self.providers.clear()
        self.providers.update(self.kept[invocation.function])
        tempfile.tempdir = str(self.tmp[invocation.function])
        return module

    def leave(self, invocation: Invocation) -> None:
        self.kept[invocation.function] = dict(self.providers)

    def close(self) -> None:
        for function in self.kept:
            self.handler_for(function).approvals.cache_clear()
        self.providers.clear()
        tempfile.tempdir = self.saved_tempdir


@contextlib.contextmanager
def counting_git(operations: list[str], names: dict[str, str]) -> Iterator[None]:
    """Append to `operations` each git round trip (ls-remote, fetch, push) the adapters make: every one
    opens a dulwich client through GitRemote._client, wrapped here to note which method called it."""
    from path2prod.adapters.git_remote import GitRemote

    original = GitRemote._client
    verbs = {"branch_head": "ls-remote", "fetch_commit": "fetch", "_send": "push", "move_branch": "check"}

    def client(self: Any) -> Any:
        caller = sys._getframe(1).f_code.co_name
        operations.append(f"{verbs.get(caller, caller)} {names.get(self.url, self.url)}")
        return original(self)

    GitRemote._client = client  # type: ignore[method-assign]
    try:
        yield
    finally:
        GitRemote._client = original  # type: ignore[method-assign]

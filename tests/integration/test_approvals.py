"""Promotion approvals end to end in-process: stg's approvals and promoter functions against moto, and
real bare git repositories for dev (upstream) and stg (target).

stg's world per test: the ledger table (template.yaml's definition), the approvals topic with one SQS
queue per approver subscribed through the template's filter policy (the approver's inbox), the alerts
topic with a queue (the alert mails), the link-signing secret in Secrets Manager, and a rule on the
default bus with the promoter's own pattern collecting the "Promotion Approved" events the approval
page announces. dev's repository holds commits by Alice; stg's main is behind it.

The handlers are fed the sample events of events/ (their commit replaced by a real one). Answers go
through the approval page's wiring (`wiring.page()`), with the tokens of the links the approvers got.
Every use case built here reads one injected clock, so expiry is a matter of moving it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.events.models import EventPattern
from moto.sts.models import sts_backends

from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.approvals import wiring
from path2prod.approvals.answering import LinkAnswerer
from path2prod.approvals.errors import PromotionPushFailed
from path2prod.approvals.page import confirmation_page
from path2prod.approvals.service import VIA_CLI, VIA_PAGE
from path2prod.audit.verify import verify_ledger
from path2prod.domain.approval_tokens import make_token, read_token
from path2prod.domain.approvals import DEFAULT_EXPIRY, ApprovalRequest, ApprovalState, Verdict
from path2prod.domain.errors import (
    AlreadyDecided,
    ApprovalError,
    InvalidEvent,
    NotAnApprover,
    RequestGone,
    SelfApproval,
)
from path2prod.domain.ledger import DOMAIN_EVENT_SOURCE, PROMOTION_APPROVED, domain_event_for
from path2prod.domain.time import format_time
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.errors import MissingSetting
from path2prod.sandbox.template import parameter_default, rule_pattern
from tests.support.entries import ledger_entry
from tests.support.git import Repo, git, make_repo
from tests.support.handlers import function_module
from tests.support.inbox import EventQueue, Mail, Mailbox, new_queue
from tests.support.lambda_context import LambdaContext
from tests.support.samples import load_event

# A handler that raises has added no metric; Powertools warns about that, which is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

REGION = "eu-west-1"  # the `aws` fixture's
ENV = "stg"
DEV_ACCOUNT = "111111111111"
STG_ACCOUNT = "222222222222"
PIPELINE = "path2prod-app"
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
APPROVERS = (ALICE, BOB, CAROL)  # Alice writes dev's commits: she may reject them, never approve them
PAGE_URL = "https://a3f9k2lq7xw5z8mnb4vc6rt1yd0pe2hs.lambda-url.eu-west-1.on.aws/"
UPSTREAM_ROLE = f"arn:aws:iam::{DEV_ACCOUNT}:role/path2prod-promotion-source"
START = datetime(2024, 5, 14, 9, 30, tzinfo=UTC)  # shortly after the sample's dev success

# --- the world: repos, mailboxes, clock -------------------------------------------------------------


@dataclass
class Clock:
    """The one clock every use case of a test reads. Each reading is a millisecond after the one before:
    time passes between two steps, as it does (entries of the same instant would tie in the ledger's
    order), while a test still knows every instant to the second."""

    now: datetime = START

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


STG_CONTEXT = LambdaContext(
    "path2prod-stg-Function", account=STG_ACCOUNT, region=REGION, memory_limit_in_mb=512
)


def _rewire() -> None:
    """Forget every function's cached use case: each is built anew from the settings on its next event."""
    for build in (wiring.opener, wiring.page, wiring.promoter):
        build.cache_clear()


def serialized(client: Any) -> Any:
    """`client`, its calls made one at a time. DynamoDB applies each transaction atomically; moto does
    not (it checks, writes and may restore a copy of the table), so threads racing through it could
    both "win". This restores DynamoDB's guarantee; the race itself stays in the code under test."""
    lock = threading.Lock()
    call = client._make_api_call

    def locked(operation: str, params: dict[str, Any]) -> Any:
        with lock:
            return call(operation, params)

    client._make_api_call = locked
    return client


@dataclass
class Stg:
    """stg's account as its approvals functions see it, dev's repository, and the people's inboxes."""

    ledger: LedgerTable
    dev: Repo
    stg: Repo
    inboxes: dict[str, Mailbox]
    alerts: Mailbox
    announced: EventQueue  # "Promotion Approved" events on stg's bus, through the promoter's own rule
    secret: bytes
    clock: Clock
    base: str  # the commit dev and stg share; stg's main names it
    monkeypatch: pytest.MonkeyPatch

    # -- the functions ------------------------------------------------------------------------------

    def open(self, event: dict[str, Any]) -> dict[str, Any]:
        """The approvals function, given one (forwarded) "Deployment Succeeded"."""
        return self.invoke("approvals", event)

    def promote(self, event: dict[str, Any]) -> dict[str, Any]:
        """The promoter function, given "Promotion Approved" or the scheduler's sweep."""
        return self.invoke("promoter", event)

    def invoke(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        app = function_module(name)
        # Built from the env on first use, then cached: set this test's clock on it. Settings it refuses
        # are left for the handler to meet, as Lambda would.
        with contextlib.suppress(MissingSetting):
            app.approvals().clock = self.clock
        result: dict[str, Any] = app.handler(copy.deepcopy(event), STG_CONTEXT)
        return result

    def setting(self, name: str, value: str | None) -> None:
        """Change an environment variable of the functions; they read settings anew on their next start."""
        if value is None:
            self.monkeypatch.delenv(name, raising=False)
        else:
            self.monkeypatch.setenv(name, value)
        _rewire()

    def page(self) -> LinkAnswerer:
        """What the approval page function wires from its settings, on this test's clock."""
        return replace(wiring.page(), clock=self.clock)

    # -- what the events say ------------------------------------------------------------------------

    def succeeded_in_dev(self, commit: str, execution_id: str, time: str) -> dict[str, Any]:
        """dev's "Deployment Succeeded" of `commit`, as stg's bus receives it (the sample's shape)."""
        event = load_event("deployment-succeeded-forwarded")
        event["id"] = str(uuid.uuid4())
        event["time"] = time
        # A label ("execution-1") stands for a UUID, the shape of CodePipeline's execution ids.
        if not re.fullmatch(r"[0-9a-f-]{36}", execution_id):
            execution_id = str(uuid.uuid5(uuid.NAMESPACE_URL, execution_id))
        event["detail"].update(commit=commit, execution_id=execution_id, time=time)
        return event

    def approved(self, request: ApprovalRequest) -> dict[str, Any]:
        event = load_event("promotion-approved")
        event["detail"].update(request_id=request.id, commit=request.commit)
        return event

    # -- what stg's ledger and people hold ----------------------------------------------------------

    @property
    def requests(self) -> ApprovalRequests:
        return ApprovalRequests(self.ledger)

    def request(self, request_id: str) -> ApprovalRequest:
        request = self.requests.get(request_id)
        assert request is not None
        return request

    def entries(self, request_id: str, kind: str = EntryKind.APPROVAL) -> list[tuple[str, str | None]]:
        """(state, trigger) of a request's ledger entries of `kind`, in order."""
        return [(e.state, e.trigger) for e in self.requests.entries(request_id) if e.kind == kind]

    def token(self, approver: str, request_id: str) -> str:
        """The token of the link `approver` got by mail for the request."""
        self.read_mail()
        for mail in self.inboxes[approver].received:
            if f"Request: {request_id}" in mail.body:
                return link_token(mail.body)
        raise AssertionError(f"{approver} got no mail about {request_id}")

    def read_mail(self) -> dict[str, list[Mail]]:
        return {approver: inbox.read() for approver, inbox in self.inboxes.items()}

    def assert_chain_intact(self) -> None:
        verification = verify_ledger(ENV, self.ledger, requests=ApprovalRequests(self.ledger))
        assert verification.report.intact, verification.as_dict()


def link_token(body: str) -> str:
    [link] = re.findall(rf"^{re.escape(PAGE_URL)}\?t=(\S+)$", body, flags=re.MULTILINE)
    return str(link)


@pytest.fixture
def stg(ledger: LedgerTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stg]:
    """stg with the template's defaults (quorum 1, 72 h expiry, fast-forwards only); dev's main is one
    commit ahead of stg's."""
    dev = make_repo(tmp_path, "dev")
    base = dev.commit("base: what runs everywhere")
    dev.push_main(base)
    stg_repo = make_repo(tmp_path, "stg")
    git("push", "--quiet", str(stg_repo.bare), f"{base}:refs/heads/main", cwd=dev.work)
    git("fetch", "--quiet", "origin", cwd=stg_repo.work)
    git("reset", "--quiet", "--hard", "origin/main", cwd=stg_repo.work)

    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    approvals_topic = sns.create_topic(Name="path2prod-stg-approvals")["TopicArn"]
    inboxes = {}
    for approver in APPROVERS:
        url, arn = new_queue(sqs)
        sns.subscribe(
            TopicArn=approvals_topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={
                "FilterPolicyScope": "MessageAttributes",
                "FilterPolicy": json.dumps({"approver": [approver]}),
            },
        )
        inboxes[approver] = Mailbox(sqs, url)
    alerts_topic = sns.create_topic(Name="path2prod-stg-alerts")["TopicArn"]
    alerts_url, alerts_arn = new_queue(sqs)
    sns.subscribe(TopicArn=alerts_topic, Protocol="sqs", Endpoint=alerts_arn)
    events = boto3.client("events", region_name=REGION)
    announced_url, announced_arn = new_queue(sqs)
    # The approval page's PutEvents lands in moto's default account here: the rule's `account` is that one.
    promoter_rule = rule_pattern(
        "PromoterFunction", "PromotionApproved", {"Environment": ENV, "AWS::AccountId": DEFAULT_ACCOUNT_ID}
    )
    events.put_rule(Name="promotion-approved", EventPattern=json.dumps(promoter_rule))
    events.put_targets(Rule="promotion-approved", Targets=[{"Id": "promoter", "Arn": announced_arn}])

    secret = uuid.uuid4().hex.encode()
    # A fresh name per test: Powertools caches a secret's value by name for minutes.
    secret_id = f"path2prod-stg-signing-{uuid.uuid4().hex[:8]}"
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=secret_id, SecretString=secret.decode()
    )
    for name, value in {
        "PATH2PROD_ENV": ENV,
        "ACCOUNT_ID": "222222222222",
        "PIPELINE_NAME": "path2prod-app",
        "PREVIOUS_ACCOUNT_ID": "111111111111",
        "LEDGER_TABLE": ledger.table_name,
        "APPROVERS": ",".join(APPROVERS),
        "APPROVAL_QUORUM": parameter_default("ApprovalQuorum"),
        "APPROVAL_EXPIRY_HOURS": parameter_default("ApprovalExpiryHours"),
        "APPROVAL_PAGE_URL": PAGE_URL,
        "SIGNING_SECRET_ID": secret_id,
        "APPROVALS_TOPIC_ARN": approvals_topic,
        "UPSTREAM_REPOSITORY_URL": str(dev.bare),
        "UPSTREAM_READ_ROLE_ARN": "",  # the sandbox's value: dev's repo is readable as it is
        "REPOSITORY_URL": str(stg_repo.bare),
        "ALERTS_TOPIC_ARN": alerts_topic,
        "ALLOW_NON_FAST_FORWARD": parameter_default("AllowNonFastForward"),
        "DEPLOY_WINDOWS": parameter_default("DeployWindows"),
        "EVENT_BUS_NAME": "default",
    }.items():
        monkeypatch.setenv(name, value)
    # The functions' fetch cache lives in the temp dir (Lambda's /tmp): keep it inside this test's.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _rewire()
    yield Stg(
        ledger=ledger,
        dev=dev,
        stg=stg_repo,
        inboxes=inboxes,
        alerts=Mailbox(sqs, alerts_url),
        announced=EventQueue(sqs, announced_url),
        secret=secret,
        clock=Clock(),
        base=base,
        monkeypatch=monkeypatch,
    )
    _rewire()


@pytest.fixture
def feature(stg: Stg) -> str:
    """A commit by Alice on dev's main that stg has not got yet."""
    commit = stg.dev.commit("feature: checkout in one click")
    stg.dev.push_main(commit)
    return commit


@pytest.fixture
def pending(stg: Stg, feature: str) -> ApprovalRequest:
    """The PENDING request the sample's dev success (of `feature`) opened; the prompts were sent."""
    event = load_event("deployment-succeeded-forwarded")
    event["detail"]["commit"] = feature
    opened = stg.open(event)
    return stg.request(opened["request_id"])


@pytest.fixture
def counted(stg: Stg, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The metrics each function added, by name, in order (then published as Powertools does)."""
    names: dict[str, list[str]] = {"approvals": [], "promoter": []}
    for function, added in names.items():
        metrics = function_module(function).metrics
        add = metrics.add_metric

        def spy(*args: Any, _add: Any = add, _added: list[str] = added, **kwargs: Any) -> None:
            _added.append(kwargs["name"])
            _add(*args, **kwargs)

        monkeypatch.setattr(metrics, "add_metric", spy)
    return names


# --- the sample events --------------------------------------------------------------------------------


def test_the_samples_match_the_rules_of_the_functions_they_feed() -> None:
    # GIVEN the template's rules of stg's approvals and promoter functions, matched as moto's buses do
    # (moto's TestEventPattern API is not implemented)
    def matches(pattern: dict[str, Any], event: Any) -> bool:
        return bool(EventPattern.load(json.dumps(pattern)).matches_event(event))

    refs = {"Environment": ENV, "AWS::AccountId": STG_ACCOUNT, "PreviousAccountId": DEV_ACCOUNT}
    opener = rule_pattern("ApprovalsFunction", "UpstreamSucceeded", refs)
    promoter = rule_pattern("PromoterFunction", "PromotionApproved", refs)
    forwarded = load_event("deployment-succeeded-forwarded")
    stg_own_success = copy.deepcopy(forwarded)
    stg_own_success["detail"]["env"] = ENV
    # A dev-env event that another account put on stg's bus (the bus policy admits only dev's forwarder).
    from_elsewhere = copy.deepcopy(forwarded)
    from_elsewhere["account"] = "444444444444"

    # WHEN / THEN the forwarded dev success opens a request in stg, stg's own success does not, nor an
    # event from another account
    assert matches(opener, forwarded)
    assert not matches(opener, stg_own_success)
    assert not matches(opener, from_elsewhere)
    # THEN "Promotion Approved" reaches the promoter only from stg's own account, and the sweep is no
    # rule's event (a schedule)
    assert matches(promoter, load_event("promotion-approved"))
    assert not matches(promoter, {**load_event("promotion-approved"), "account": DEV_ACCOUNT})
    assert not matches(promoter, load_event("scheduled-promoter-sweep"))

    # THEN the forwarded sample's detail is what dev's recorder publishes for that execution's success
    detail = forwarded["detail"]
    entry = ledger_entry(
        env="dev",
        commit=detail["commit"],
        state="SUCCEEDED",
        execution_id=detail["execution_id"],
        pipeline=PIPELINE,
        time=detail["time"],
        account=DEV_ACCOUNT,
        region=REGION,
    )
    assert domain_event_for(entry) == (forwarded["detail-type"], detail)
    assert forwarded["source"] == DOMAIN_EVENT_SOURCE
    # AND an env with a bake time tells it with each success (only a success: a failure bakes nothing)
    assert domain_event_for(entry, bake_minutes=30) == (
        forwarded["detail-type"],
        {**detail, "bake_minutes": 30},
    )
    failed = replace(entry, state=EntryState.FAILED)
    assert "bake_minutes" not in (domain_event_for(failed, bake_minutes=30) or ("", {}))[1]


# --- opening a request --------------------------------------------------------------------------------


def test_a_forwarded_success_opens_one_request_and_mails_each_approver_their_own_link(
    stg: Stg, feature: str
) -> None:
    # GIVEN dev's success of Alice's commit, forwarded to stg (the sample, with a real commit)
    event = load_event("deployment-succeeded-forwarded")
    event["detail"]["commit"] = feature

    # WHEN it arrives three times (EventBridge delivers at least once)
    results = [stg.open(event) for _ in range(3)]
    mails = stg.read_mail()

    # THEN one PENDING request, with what git and the settings say
    assert len({r["request_id"] for r in results}) == 1
    assert results[0] == {"request_id": results[0]["request_id"], "state": "PENDING", "commit": feature}
    [request] = stg.requests.recent(ENV)
    assert request.id == results[0]["request_id"]
    assert request.state is ApprovalState.PENDING
    assert (request.commit, request.env) == (feature, ENV)
    assert (request.author_name, request.author_email) == ("Alice Example", ALICE)
    assert request.message == "feature: checkout in one click"
    assert (request.approvers, request.quorum) == (APPROVERS, 1)
    assert request.requested_at == format_time(START)
    assert (
        request.expires_at == format_time(START + timedelta(hours=72)) == format_time(START + DEFAULT_EXPIRY)
    )
    detail = event["detail"]
    assert (request.upstream.env, request.upstream.execution_id, request.upstream.succeeded_at) == (
        "dev",
        detail["execution_id"],
        detail["time"],
    )
    assert request.notified_at == format_time(START)

    # THEN each approver got exactly one mail, holding their own link only
    tokens = {a: make_token(stg.secret, request.id, a, request.expires_at) for a in APPROVERS}
    for approver in APPROVERS:
        [mail] = mails[approver]
        assert mail.approver == approver
        token = link_token(mail.body)
        assert token == tokens[approver]
        assert read_token(stg.secret, token, now=START).approver == approver
        for other in set(APPROVERS) - {approver}:
            assert tokens[other] not in mail.body

    # THEN the mail is plain text saying what, who, until when, and where to answer
    bob_mail = mails[BOB][0]
    assert feature[:12] in bob_mail.subject
    for fact in (
        feature,
        "Alice Example <alice@example.com>",
        "feature: checkout in one click",
        request.expires_at,
        f"{PAGE_URL}?t={tokens[BOB]}",
        f"execution {detail['execution_id']} SUCCEEDED",
    ):
        assert fact in bob_mail.body
    assert not re.search(r"<(html|a|p|br|body)\b", bob_mail.body, flags=re.IGNORECASE)
    assert "You wrote this commit" in mails[ALICE][0].body
    assert "You wrote this commit" not in bob_mail.body

    # THEN the ledger holds one REQUESTED entry, and its chain is intact
    assert stg.entries(request.id) == [("REQUESTED", "path2prod")]
    [entry] = stg.requests.entries(request.id)
    assert (entry.commit, entry.env, entry.execution_id, entry.pipeline) == (
        feature,
        ENV,
        request.id,
        PIPELINE,
    )
    stg.assert_chain_intact()


def test_a_newer_success_supersedes_the_pending_request_and_a_late_older_one_opens_superseded(
    stg: Stg,
) -> None:
    # GIVEN three commits that succeeded in dev one after the other
    first = stg.dev.commit("first")
    second = stg.dev.commit("second")
    stg.dev.push_main(second)
    zeroth_event = stg.succeeded_in_dev(stg.base, "execution-0", "2024-05-14T07:00:00Z")
    first_event = stg.succeeded_in_dev(first, "execution-1", "2024-05-14T08:00:00Z")
    second_event = stg.succeeded_in_dev(second, "execution-2", "2024-05-14T09:00:00Z")
    older = stg.open(first_event)
    stg.read_mail()

    # WHEN the newer success arrives
    stg.clock.advance(timedelta(minutes=5))
    newer = stg.open(second_event)

    # THEN the older request is SUPERSEDED by the newer (with its ledger entry); approvers get the newer
    assert newer["state"] == "PENDING"
    superseded = stg.request(older["request_id"])
    assert (superseded.state, superseded.superseded_by) == (ApprovalState.SUPERSEDED, newer["request_id"])
    assert stg.entries(older["request_id"]) == [("REQUESTED", "path2prod"), ("SUPERSEDED", "path2prod")]
    assert all(len(mails) == 1 and second in mails[0].body for mails in stg.read_mail().values())
    assert [r.id for r in stg.requests.pending(ENV)] == [newer["request_id"]]

    # WHEN a success older than both arrives late
    stg.clock.advance(timedelta(minutes=5))
    late = stg.open(zeroth_event)

    # THEN it opens already SUPERSEDED by the newest, prompts nobody, and the newest stays PENDING
    assert late["state"] == "SUPERSEDED"
    assert stg.request(late["request_id"]).superseded_by == newer["request_id"]
    assert stg.entries(late["request_id"]) == [("REQUESTED", "path2prod"), ("SUPERSEDED", "path2prod")]
    assert stg.read_mail() == {approver: [] for approver in APPROVERS}
    assert stg.request(newer["request_id"]).state is ApprovalState.PENDING
    stg.assert_chain_intact()


def test_a_late_older_success_after_the_newer_one_was_approved_prompts_nobody(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # GIVEN the request for dev's newest success was approved (and pushed)
    stg.page().answer_link(stg.token(BOB, pending.id), Verdict.APPROVE)
    stg.promote(stg.approved(pending))
    assert stg.stg.main == pending.commit
    stg.read_mail()

    # WHEN an older dev success (of the base commit, an hour earlier) arrives late
    late = stg.open(stg.succeeded_in_dev(stg.base, "execution-older", "2024-05-14T08:00:00Z"))

    # THEN nobody is asked to promote the older commit: it opens SUPERSEDED, as with a pending newer one
    assert stg.read_mail() == {approver: [] for approver in APPROVERS}
    assert late["state"] == "SUPERSEDED"


def test_a_duplicated_success_counts_one_approval_request(
    stg: Stg, feature: str, counted: dict[str, list[str]]
) -> None:
    # GIVEN dev's success of Alice's commit, forwarded to stg
    event = load_event("deployment-succeeded-forwarded")
    event["detail"]["commit"] = feature

    # WHEN it arrives three times (EventBridge delivers at least once)
    results = [stg.open(event) for _ in range(3)]

    # THEN one request, counted once: the redeliveries opened nothing
    assert len({r["request_id"] for r in results}) == 1
    assert counted["approvals"] == ["ApprovalRequests"]


def test_a_late_success_opens_superseded_however_many_requests_opened_since_the_newer_one(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # GIVEN the request for dev's newest success (09:18), then 20 late events of successes older than any
    # other (07:00 to 07:19), each opened already superseded
    for n in range(20):
        stg.clock.advance(timedelta(seconds=1))  # each opened after the one before
        stale = stg.open(stg.succeeded_in_dev(stg.base, f"stale-{n}", f"2024-05-14T07:{n:02}:00Z"))
        assert stale["state"] == "SUPERSEDED"
    stg.read_mail()

    # WHEN a success at 08:00, older than the pending request's, arrives late
    late = stg.open(stg.succeeded_in_dev(stg.base, "execution-late", "2024-05-14T08:00:00Z"))

    # THEN it opens superseded by the newer request, however many requests opened since, and nobody is asked
    assert late["state"] == "SUPERSEDED"
    assert stg.request(late["request_id"]).superseded_by == pending.id
    assert stg.read_mail() == {approver: [] for approver in APPROVERS}
    assert [r.id for r in stg.requests.pending(ENV)] == [pending.id]


def test_requests_opened_since_a_time_are_read_by_a_key_condition_newest_first_page_by_page(
    stg: Stg, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN five requests of stg, opened a minute apart from 09:30
    opened = []
    for n in range(5):
        stg.clock.advance(timedelta(minutes=1))
        event = stg.succeeded_in_dev(stg.base, f"execution-{n}", f"2024-05-14T09:{n:02}:00Z")
        opened.append(stg.open(event)["request_id"])
    calls: list[tuple[str, dict[str, Any]]] = []
    call = stg.ledger.client._make_api_call

    def spy(operation: str, params: dict[str, Any]) -> Any:
        calls.append((operation, params))
        return call(operation, params)

    monkeypatch.setattr(stg.ledger.client, "_make_api_call", spy)
    since = format_time(START + timedelta(minutes=2, seconds=30))

    # WHEN the requests opened since 09:32:30 are read two a page, and the first one alone
    every = [r.id for r in stg.requests.opened_since(ENV, since, page_size=2)]
    pages = len(calls)
    first = next(iter(stg.requests.opened_since(ENV, since, page_size=2)))

    # THEN the three opened since, newest first, read by Queries bounded by the time (no Scan), in two
    # pages; the first alone costs one Query
    assert every == opened[:1:-1]
    assert first.id == opened[-1]
    assert [operation for operation, _ in calls] == ["Query"] * (pages + 1)
    assert pages == 2
    assert all("gsi2sk > :since" in params["KeyConditionExpression"] for _, params in calls)


# --- answering ----------------------------------------------------------------------------------------


def test_the_author_cannot_approve_and_nothing_is_written(stg: Stg, pending: ApprovalRequest) -> None:
    # GIVEN Alice's own link to the request for her commit
    token = stg.token(ALICE, pending.id)
    head = stg.ledger.chain_head()

    # WHEN she approves it, THEN it is refused and nothing is written
    with pytest.raises(SelfApproval):
        stg.page().answer_link(token, Verdict.APPROVE)
    assert stg.request(pending.id) == pending
    assert stg.request(pending.id).version == pending.version
    assert stg.ledger.chain_head() == head
    assert stg.announced.take() == []


def test_an_approval_decides_once_records_who_when_how_and_announces_the_promotion(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # GIVEN Bob's link, an hour after the request opened
    token = stg.token(BOB, pending.id)
    stg.clock.advance(timedelta(hours=1))

    # WHEN Bob approves on the page
    decided = stg.page().answer_link(token, Verdict.APPROVE)

    # THEN the request is APPROVED with Bob's decision; the ledger says so; the promoter is told
    assert decided == stg.request(pending.id)
    assert decided.state is ApprovalState.APPROVED
    [decision] = decided.decisions
    assert (decision.approver, decision.verdict, decision.at, decision.via) == (
        BOB,
        Verdict.APPROVE,
        format_time(START + timedelta(hours=1)),
        VIA_PAGE,
    )
    assert stg.entries(pending.id) == [("REQUESTED", "path2prod"), ("APPROVED", BOB)]
    approved_entry = stg.requests.entries(pending.id)[-1]
    assert (approved_entry.via, approved_entry.time) == (VIA_PAGE, decision.at)
    [event] = stg.announced.take()
    expected = stg.approved(decided)
    assert (event["source"], event["detail-type"], event["detail"]) == (
        expected["source"],
        expected["detail-type"],
        expected["detail"],
    )
    assert event["detail-type"] == PROMOTION_APPROVED

    # WHEN Bob posts the same link again, THEN it is refused and nothing is written
    head = stg.ledger.chain_head()
    with pytest.raises(AlreadyDecided):
        stg.page().answer_link(token, Verdict.APPROVE)
    assert stg.ledger.chain_head() == head
    assert stg.request(pending.id).version == decided.version
    assert stg.announced.take() == []
    stg.assert_chain_intact()


def test_a_quorum_of_two_needs_two_approvers(stg: Stg, feature: str) -> None:
    # GIVEN stg needs two approvals
    stg.setting("APPROVAL_QUORUM", "2")
    event = load_event("deployment-succeeded-forwarded")
    event["detail"]["commit"] = feature
    request = stg.request(stg.open(event)["request_id"])
    assert request.quorum == 2

    # WHEN Bob approves
    after_bob = stg.page().answer_link(stg.token(BOB, request.id), Verdict.APPROVE)

    # THEN it is still PENDING, and nothing is announced
    assert after_bob.state is ApprovalState.PENDING
    assert after_bob.approved_by == (BOB,)
    assert stg.announced.take() == []

    # WHEN Carol approves too, THEN it is APPROVED and announced once
    after_carol = stg.page().answer_link(stg.token(CAROL, request.id), Verdict.APPROVE)
    assert after_carol.state is ApprovalState.APPROVED
    assert after_carol.approved_by == (BOB, CAROL)
    assert stg.entries(request.id) == [("REQUESTED", "path2prod"), ("APPROVED", BOB), ("APPROVED", CAROL)]
    assert len(stg.announced.take()) == 1
    stg.assert_chain_intact()


def test_a_rejection_rejects_and_nothing_is_promoted(stg: Stg, pending: ApprovalRequest) -> None:
    # GIVEN the author's link (she may reject her own change)
    token = stg.token(ALICE, pending.id)

    # WHEN Alice rejects it with a reason
    rejected = stg.page().answer_link(token, Verdict.REJECT, reason="breaks the payment page")

    # THEN REJECTED, recorded with the reason, nothing announced
    assert rejected.state is ApprovalState.REJECTED
    assert rejected.decisions[0].reason == "breaks the payment page"
    assert stg.entries(pending.id) == [("REQUESTED", "path2prod"), ("REJECTED", ALICE)]
    assert stg.announced.take() == []

    # WHEN the promoter's sweep runs, or a stray "Promotion Approved" of it arrives
    untouched = stg.stg.main_ref_version()
    swept = stg.promote(load_event("scheduled-promoter-sweep"))
    stray = stg.promote(stg.approved(pending))

    # THEN nothing is pushed or recorded
    assert swept == {"swept": {}}
    assert stray == {"request_id": pending.id, "promotion": None}
    assert stg.stg.main == stg.base
    assert stg.stg.main_ref_version() == untouched
    assert stg.entries(pending.id, EntryKind.PROMOTION) == []
    # THEN nobody else can approve it afterwards
    with pytest.raises(AlreadyDecided):
        stg.page().answer_link(stg.token(BOB, pending.id), Verdict.APPROVE)
    stg.assert_chain_intact()


def test_an_answer_after_the_expiry_is_refused_and_the_expiry_recorded_once(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # GIVEN the request's 72 hours have passed
    stg.clock.advance(timedelta(hours=72))

    # WHEN Bob approves through the CLI, twice
    with pytest.raises(RequestGone):
        stg.page().answer(pending.id, BOB, Verdict.APPROVE, via=VIA_CLI)
    with pytest.raises(RequestGone):
        stg.page().answer(pending.id, CAROL, Verdict.REJECT, via=VIA_CLI)

    # THEN the request is EXPIRED, with one EXPIRED entry, no decision and nothing announced
    expired = stg.request(pending.id)
    assert expired.state is ApprovalState.EXPIRED
    assert expired.decisions == ()
    assert stg.entries(pending.id) == [("REQUESTED", "path2prod"), ("EXPIRED", "path2prod")]
    assert stg.requests.pending(ENV) == []
    assert stg.announced.take() == []

    # WHEN Bob's link is posted now, THEN the page refuses it too, and writes nothing more
    head = stg.ledger.chain_head()
    with pytest.raises(RequestGone):
        stg.page().answer_link(stg.token(BOB, pending.id), Verdict.APPROVE)
    assert stg.ledger.chain_head() == head
    stg.assert_chain_intact()


def test_a_late_answer_on_the_page_records_the_expiry(stg: Stg, pending: ApprovalRequest) -> None:
    # GIVEN the request expired, and nobody answered in time
    stg.clock.advance(timedelta(hours=73))

    # WHEN Bob posts his link late, THEN it is refused
    with pytest.raises(RequestGone):
        stg.page().answer_link(stg.token(BOB, pending.id), Verdict.APPROVE)

    # THEN the ledger records the expiry, as it does for a late answer through the CLI
    assert stg.entries(pending.id) == [("REQUESTED", "path2prod"), ("EXPIRED", "path2prod")]


# --- concurrent answers -------------------------------------------------------------------------------


def _race(stg: Stg, answers: list[tuple[str, Verdict]], request_id: str) -> tuple[list[Any], int]:
    """Post `answers` from as many threads, each having read the request before any of them writes.
    Returns each thread's result (the stored request, or the error raised) and how many writes were tried."""
    ledger = LedgerTable(stg.ledger.table_name, serialized(boto3.client("dynamodb", region_name=REGION)))
    store = ApprovalRequests(ledger)
    approvals = replace(stg.page(), requests=store)
    tokens = [stg.token(approver, request_id) for approver, _ in answers]
    barrier = threading.Barrier(len(answers), timeout=20)
    first_write_done: set[int] = set()
    writes: list[int] = []
    write = store.write

    def write_together(changes: Any, entries: Any = ()) -> list[ApprovalRequest]:
        # Every thread's first write waits until all threads have read: they all decide on the same version.
        writes.append(threading.get_ident())
        if threading.get_ident() not in first_write_done:
            first_write_done.add(threading.get_ident())
            barrier.wait()
        return write(changes, entries)

    store.write = write_together  # type: ignore[method-assign]

    def post(index: int) -> Any:
        try:
            return approvals.answer_link(tokens[index], answers[index][1])
        except Exception as error:  # the test inspects what each thread got
            return error

    with ThreadPoolExecutor(max_workers=len(answers)) as pool:
        results = list(pool.map(post, range(len(answers))))
    return results, len(writes)


def test_two_approvers_answering_at_once_both_land(stg: Stg, feature: str) -> None:
    # GIVEN a request needing two approvals
    stg.setting("APPROVAL_QUORUM", "2")
    event = load_event("deployment-succeeded-forwarded")
    event["detail"]["commit"] = feature
    request_id = stg.open(event)["request_id"]

    # WHEN Bob and Carol approve at the same instant (both read version 1 before either writes)
    results, writes = _race(stg, [(BOB, Verdict.APPROVE), (CAROL, Verdict.APPROVE)], request_id)

    # THEN neither failed: the loser of the race read again and decided again (3 writes tried)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert writes == 3
    final = stg.request(request_id)
    assert final.state is ApprovalState.APPROVED
    assert sorted(final.approved_by) == [BOB, CAROL]
    assert sorted(stg.entries(request_id)[1:]) == [("APPROVED", BOB), ("APPROVED", CAROL)]
    assert len(stg.announced.take()) == 1
    stg.assert_chain_intact()


def test_the_same_approver_posting_twice_at_once_lands_once(stg: Stg, feature: str) -> None:
    # GIVEN a request needing two approvals
    stg.setting("APPROVAL_QUORUM", "2")
    event = load_event("deployment-succeeded-forwarded")
    event["detail"]["commit"] = feature
    request_id = stg.open(event)["request_id"]

    # WHEN Bob's link is posted twice at the same instant (a double click)
    results, _writes = _race(stg, [(BOB, Verdict.APPROVE), (BOB, Verdict.APPROVE)], request_id)

    # THEN one post lands, the other is told it was answered already
    stored = [r for r in results if isinstance(r, ApprovalRequest)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(stored) == 1 and [type(r) for r in refused] == [AlreadyDecided]
    final = stg.request(request_id)
    assert (final.state, final.approved_by) == (ApprovalState.PENDING, (BOB,))
    assert stg.entries(request_id) == [("REQUESTED", "path2prod"), ("APPROVED", BOB)]
    stg.assert_chain_intact()


# --- promoting ----------------------------------------------------------------------------------------


def _approve(stg: Stg, request: ApprovalRequest) -> ApprovalRequest:
    decided = stg.page().answer_link(stg.token(BOB, request.id), Verdict.APPROVE)
    stg.announced.take()
    return decided


def test_an_approved_commit_is_pushed_to_stg_once(stg: Stg, pending: ApprovalRequest) -> None:
    # GIVEN Bob approved; stg's main is behind dev's
    _approve(stg, pending)
    event = stg.approved(pending)

    # WHEN the promoter gets "Promotion Approved" (the sample, naming this request)
    result = stg.promote(event)

    # THEN stg's main is the approved commit, the push is in the ledger and on the request
    assert result == {"request_id": pending.id, "promotion": "PUSHED"}
    assert stg.stg.main == pending.commit
    git("--git-dir", str(stg.stg.bare), "fsck", "--strict", "--no-dangling")
    promoted = stg.request(pending.id)
    assert (promoted.state, promoted.promotion, promoted.promotion_attempts) == (
        ApprovalState.APPROVED,
        "PUSHED",
        1,
    )
    assert stg.entries(pending.id, EntryKind.PROMOTION) == [("SUCCEEDED", "path2prod")]
    [pushed] = [e for e in stg.requests.entries(pending.id) if e.kind == EntryKind.PROMOTION]
    assert (pushed.commit, pushed.from_commit, pushed.env) == (pending.commit, stg.base, ENV)
    assert BOB in (pushed.reason or "")
    assert stg.requests.awaiting_promotion(ENV) == []

    # WHEN the same event arrives again, and the sweep runs
    moved = stg.stg.main_ref_version()
    head = stg.ledger.chain_head()
    again = stg.promote(event)
    swept = stg.promote(load_event("scheduled-promoter-sweep"))

    # THEN nothing changes
    assert again == result
    assert swept == {"swept": {}}
    assert stg.stg.main_ref_version() == moved
    assert stg.ledger.chain_head() == head
    assert stg.alerts.read() == []
    stg.assert_chain_intact()


def test_a_promotion_that_is_not_a_fast_forward_is_refused_and_alerted(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # GIVEN someone committed straight to stg's main meanwhile; Bob approves dev's commit
    hotfix = stg.stg.commit("hotfix made in stg", env={"GIT_AUTHOR_EMAIL": "dave@example.com"})
    stg.stg.push_main(hotfix)
    untouched = stg.stg.main_ref_version()
    _approve(stg, pending)

    # WHEN the promoter gets the approval
    result = stg.promote(stg.approved(pending))

    # THEN main keeps the hotfix; the request is REFUSED for good and people are alerted once
    assert result == {"request_id": pending.id, "promotion": "REFUSED"}
    assert stg.stg.main == hotfix
    assert stg.stg.main_ref_version() == untouched
    refused = stg.request(pending.id)
    assert (refused.promotion, refused.state) == ("REFUSED", ApprovalState.APPROVED)
    assert refused.promotion_error and "not a fast-forward" in refused.promotion_error
    assert stg.entries(pending.id, EntryKind.PROMOTION) == [("REFUSED", "path2prod")]
    [alert] = stg.alerts.read()
    assert "refused" in alert.subject and pending.commit[:12] in alert.subject
    assert pending.id in alert.body

    # WHEN the sweep runs, THEN it does not try again
    assert stg.promote(load_event("scheduled-promoter-sweep")) == {"swept": {}}
    assert stg.stg.main == hotfix
    assert stg.alerts.read() == []
    stg.assert_chain_intact()


def test_a_non_fast_forward_is_pushed_when_the_env_allows_it(stg: Stg, pending: ApprovalRequest) -> None:
    # GIVEN stg allows non-fast-forward promotions, and its main has a commit dev lacks
    stg.setting("ALLOW_NON_FAST_FORWARD", "true")
    hotfix = stg.stg.commit("hotfix made in stg")
    stg.stg.push_main(hotfix)
    _approve(stg, pending)

    # WHEN the promoter gets the approval
    result = stg.promote(stg.approved(pending))

    # THEN main is the approved commit, and the ledger says from what it moved
    assert result == {"request_id": pending.id, "promotion": "PUSHED"}
    assert stg.stg.main == pending.commit
    [pushed] = [e for e in stg.requests.entries(pending.id) if e.kind == EntryKind.PROMOTION]
    assert (pushed.state, pushed.from_commit) == ("SUCCEEDED", hotfix)
    assert stg.alerts.read() == []
    stg.assert_chain_intact()


# A freeze around the test's clock (START is 09:30 UTC): until noon.
FREEZE = "tz=Europe/Berlin; freeze=2024-05-14T10:00/2024-05-14T14:00"


def test_an_approval_during_a_freeze_is_held_once_and_the_sweep_pushes_it_when_the_freeze_ends(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # GIVEN stg is frozen until noon UTC (14:00 in Berlin), and Bob approves at 09:30 UTC
    stg.setting("DEPLOY_WINDOWS", FREEZE)
    before = stg.stg.main
    _approve(stg, pending)

    # WHEN the promoter gets the approval, and the sweep runs during the freeze
    result = stg.promote(stg.approved(pending))
    swept = stg.promote(load_event("scheduled-promoter-sweep"))

    # THEN nothing is pushed; the hold is recorded and told once, with when the window opens
    assert result == {"request_id": pending.id, "promotion": "HELD"}
    assert swept == {"swept": {pending.id: "HELD"}}
    assert stg.stg.main == before
    held = stg.request(pending.id)
    assert (held.state, held.promotion, held.promotion_attempts) == (ApprovalState.APPROVED, "HELD", 0)
    assert held.promotion_error and "2024-05-14T12:00:00Z" in held.promotion_error
    assert stg.entries(pending.id, EntryKind.PROMOTION) == [("HELD", "path2prod")]
    [alert] = stg.alerts.read()
    assert "held, pushed at 2024-05-14T12:00:00Z" in alert.subject and pending.commit[:12] in alert.subject
    assert "2024-05-14T12:00:00Z" in alert.body and "--break-glass" in alert.body
    assert [r.id for r in stg.requests.awaiting_promotion(ENV)] == [pending.id]

    # WHEN the freeze has ended and the schedule's sweep runs, nobody acting again
    stg.clock.advance(timedelta(hours=3))
    swept = stg.promote(load_event("scheduled-promoter-sweep"))

    # THEN the approved commit is pushed, once, as any promotion
    assert swept == {"swept": {pending.id: "PUSHED"}}
    assert stg.stg.main == pending.commit
    assert stg.entries(pending.id, EntryKind.PROMOTION) == [("HELD", "path2prod"), ("SUCCEEDED", "path2prod")]
    assert stg.request(pending.id).promotion_attempts == 1
    assert stg.alerts.read() == []
    stg.assert_chain_intact()


def test_a_break_glass_order_only_the_request_item_claims_pushes_nothing(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # GIVEN stg frozen and Bob's approval held; then the request item alone says "break glass" (written
    # with no chained BREAK_GLASS entry, as someone editing the table would)
    stg.setting("DEPLOY_WINDOWS", FREEZE)
    _approve(stg, pending)
    stg.promote(stg.approved(pending))
    held = stg.request(pending.id)
    stg.requests.write([(held, replace(held, break_glass="mallory@example.com: trust me"))])

    # WHEN the promoter gets "Promotion Approved" again
    result = stg.promote(stg.approved(pending))

    # THEN the freeze still holds it: the record, not the item, says whether the glass was broken
    assert result == {"request_id": pending.id, "promotion": "HELD"}
    assert stg.stg.main == stg.base
    assert stg.entries(pending.id, EntryKind.PROMOTION) == [("HELD", "path2prod")]


def test_a_request_opened_during_a_freeze_tells_its_approvers_an_approval_is_held(
    stg: Stg, feature: str
) -> None:
    # GIVEN stg frozen until noon UTC
    stg.setting("DEPLOY_WINDOWS", FREEZE)

    # WHEN dev's success of the feature opens a request
    event = load_event("deployment-succeeded-forwarded")
    event["detail"]["commit"] = feature
    stg.open(event)

    # THEN each approver's prompt says the window is closed, until when, and that an approval waits for it
    mails = stg.read_mail()
    for approver in APPROVERS:
        [prompt] = mails[approver]
        assert "Window:     stg's deploy window is closed (frozen by" in prompt.body
        assert "until 2024-05-14T12:00:00Z); an approval is held and pushed when it opens" in prompt.body


def test_a_break_glass_order_pushes_a_held_commit_during_the_freeze_and_says_so(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # GIVEN stg is frozen, and Bob's approval is held
    stg.setting("DEPLOY_WINDOWS", FREEZE)
    _approve(stg, pending)
    stg.promote(stg.approved(pending))
    stg.alerts.read()
    answerer = stg.page()

    # WHEN someone who approves nothing in stg, or Bob without a reason, orders it pushed
    # THEN each is refused and nothing is written
    head = stg.ledger.chain_head()
    with pytest.raises(NotAnApprover):
        answerer.break_glass(pending.id, "mallory@example.com", "trust me", via=VIA_CLI)
    with pytest.raises(ApprovalError, match="reason"):
        answerer.break_glass(pending.id, BOB, "  ", via=VIA_CLI)
    assert stg.ledger.chain_head() == head

    # WHEN Bob orders it pushed by break glass, and the promoter gets the announcement
    ordered = answerer.break_glass(pending.id, BOB, "incident 4711: the fix must ship", via=VIA_CLI)
    announced = stg.announced.take()
    result = stg.promote(stg.approved(pending))

    # THEN it is pushed now, and the ledger says who broke the glass, why, and during which freeze
    assert ordered.break_glass == f"{BOB}: incident 4711: the fix must ship"
    assert [event["detail"]["request_id"] for event in announced] == [pending.id]
    assert result == {"request_id": pending.id, "promotion": "PUSHED"}
    assert stg.stg.main == pending.commit
    assert stg.entries(pending.id)[-1] == ("BREAK_GLASS", BOB)
    pushed = [e for e in stg.requests.entries(pending.id) if e.kind == EntryKind.PROMOTION][-1]
    assert (pushed.state, pushed.via) == ("SUCCEEDED", "break glass")
    assert "incident 4711" in (pushed.reason or "") and "frozen" in (pushed.reason or "")

    # WHEN Bob orders it again, THEN it is refused: it is pushed already
    with pytest.raises(AlreadyDecided):
        answerer.break_glass(pending.id, BOB, "again", via=VIA_CLI)
    stg.assert_chain_intact()


def _baking(stg: Stg, commit: str, minutes: int) -> ApprovalRequest:
    """The request dev's success of `commit` opened, dev telling its bake time; approved by Bob."""
    event = load_event("deployment-succeeded-forwarded")  # dev's success at 09:18:40 UTC
    event["detail"].update(commit=commit, bake_minutes=minutes)
    opened = stg.open(event)
    return _approve(stg, stg.request(opened["request_id"]))


def test_a_commit_baking_upstream_is_held_until_its_bake_time_passed_quietly_then_pushed(
    stg: Stg, feature: str
) -> None:
    # GIVEN dev watches its successes' alarms for 60 minutes, and Bob approved at 09:30, mid-bake
    request = _baking(stg, feature, 60)
    assert request.upstream.bake_minutes == 60

    # WHEN the promoter gets the approval
    result = stg.promote(stg.approved(request))

    # THEN it is held, recorded and told once, until dev's bake time ends (09:18:40 + 60 min)
    assert result == {"request_id": request.id, "promotion": "HELD"}
    assert stg.stg.main == stg.base
    held = stg.request(request.id)
    assert held.promotion_error and "baking in dev until 2024-05-14T10:18:40Z" in held.promotion_error
    [alert] = stg.alerts.read()
    assert "pushed at 2024-05-14T10:18:40Z" in alert.subject

    # WHEN the bake time passed, dev's main still naming the commit, and the sweep runs
    stg.clock.advance(timedelta(hours=1))
    swept = stg.promote(load_event("scheduled-promoter-sweep"))

    # THEN it is pushed, nobody acting again
    assert swept == {"swept": {request.id: "PUSHED"}}
    assert stg.stg.main == feature
    stg.assert_chain_intact()


def test_a_commit_rolled_back_upstream_during_its_bake_time_is_never_promoted(stg: Stg, feature: str) -> None:
    # GIVEN Bob approved a commit baking in dev, held
    request = _baking(stg, feature, 60)
    stg.promote(stg.approved(request))
    stg.alerts.read()

    # WHEN an alarm rolls dev back during the bake (its main names the commit before again), and the
    # sweep runs after the bake time
    stg.dev.push_main(stg.base)
    stg.clock.advance(timedelta(hours=1))
    swept = stg.promote(load_event("scheduled-promoter-sweep"))

    # THEN it is refused for good and told; stg's main does not move
    assert swept == {"swept": {request.id: "REFUSED"}}
    assert stg.stg.main == stg.base
    refused = stg.request(request.id)
    assert refused.promotion_error and "dev's main names" in refused.promotion_error
    [alert] = stg.alerts.read()
    assert "not baked in dev" in alert.subject
    assert stg.promote(load_event("scheduled-promoter-sweep")) == {"swept": {}}
    stg.assert_chain_intact()


def test_a_break_glass_order_pushes_a_commit_still_baking_upstream_and_says_so(
    stg: Stg, feature: str
) -> None:
    # GIVEN Bob approved a commit still baking in dev, held
    request = _baking(stg, feature, 60)
    stg.promote(stg.approved(request))

    # WHEN Bob orders it pushed by break glass, and the promoter gets the announcement
    stg.page().break_glass(request.id, BOB, "the fix must ship now", via=VIA_CLI)
    stg.announced.take()
    result = stg.promote(stg.approved(request))

    # THEN it is pushed during the bake time, the promotion entry naming break glass and the bake it broke
    assert result == {"request_id": request.id, "promotion": "PUSHED"}
    assert stg.stg.main == feature
    pushed = [e for e in stg.requests.entries(request.id) if e.kind == EntryKind.PROMOTION][-1]
    assert pushed.via == "break glass"
    assert "the fix must ship now" in (pushed.reason or "") and "baking in dev until" in (pushed.reason or "")
    stg.assert_chain_intact()


@pytest.mark.parametrize("minutes", [-1, 10081, 1.5, "30", True])
def test_a_success_telling_a_bake_time_that_is_no_whole_week_of_minutes_is_refused(
    stg: Stg, feature: str, minutes: Any
) -> None:
    # GIVEN dev's success claiming a bake time out of bounds or of the wrong type
    event = load_event("deployment-succeeded-forwarded")
    event["detail"].update(commit=feature, bake_minutes=minutes)

    # WHEN the approvals function gets it, THEN it is refused naming the field, and nothing opens
    with pytest.raises(InvalidEvent, match=r"detail\.bake_minutes"):
        stg.open(event)
    assert stg.requests.awaiting_promotion(ENV) == []


def test_a_push_to_an_unreachable_repo_fails_is_kept_and_the_sweep_pushes_it_later(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # GIVEN an approved request, and stg's repository out of reach (moved away)
    _approve(stg, pending)
    away = stg.stg.bare.with_name("stg-away.git")
    stg.stg.bare.rename(away)
    event = stg.approved(pending)

    # WHEN the promoter gets the approval, and EventBridge retries it twice
    for attempt in (1, 2, 3):
        with pytest.raises(PromotionPushFailed):
            stg.promote(event)

        # THEN each try is recorded on the request, which stays APPROVED and owed a push
        failed = stg.request(pending.id)
        assert (failed.state, failed.promotion, failed.promotion_attempts) == (
            ApprovalState.APPROVED,
            "FAILED",
            attempt,
        )
        assert failed.promotion_error and "git" in failed.promotion_error.lower()
        assert [r.id for r in stg.requests.awaiting_promotion(ENV)] == [pending.id]
    # THEN people hear of it once, on the third failure
    [alert] = stg.alerts.read()
    assert "keeps failing" in alert.subject
    assert stg.entries(pending.id, EntryKind.PROMOTION) == [("FAILED", "path2prod")] * 3

    # WHEN the repository is back and the scheduler's sweep runs
    away.rename(stg.stg.bare)
    swept = stg.promote(load_event("scheduled-promoter-sweep"))

    # THEN the commit is pushed: the approval was never lost
    assert swept == {"swept": {pending.id: "PUSHED"}}
    assert stg.stg.main == pending.commit
    pushed = stg.request(pending.id)
    assert (pushed.promotion, pushed.promotion_attempts, pushed.promotion_error) == ("PUSHED", 4, None)
    assert stg.entries(pending.id, EntryKind.PROMOTION)[-1] == ("SUCCEEDED", "path2prod")
    assert stg.requests.awaiting_promotion(ENV) == []
    stg.assert_chain_intact()


def test_the_sweep_never_moves_main_back_to_an_older_approved_commit(stg: Stg, feature: str) -> None:
    # GIVEN stg allows non-fast-forward promotions, and its repository is out of reach while pushed to
    # (the approvals function reads its main when a request opens: it is there then)
    stg.setting("ALLOW_NON_FAST_FORWARD", "true")
    away = stg.stg.bare.with_name("stg-away.git")
    newer = stg.dev.commit("newer: builds on the feature")
    stg.dev.push_main(newer)
    # WHEN the feature, then the newer commit, succeed in dev and are approved; both pushes fail
    for commit, execution, time in (
        (feature, "execution-feature", "2024-05-14T09:00:00Z"),
        (newer, "execution-newer", "2024-05-14T09:45:00Z"),
    ):
        stg.clock.advance(timedelta(minutes=10))  # people take minutes to approve
        request = stg.request(stg.open(stg.succeeded_in_dev(commit, execution, time))["request_id"])
        _approve(stg, request)
        stg.stg.bare.rename(away)
        with pytest.raises(PromotionPushFailed):
            stg.promote(stg.approved(request))
        away.rename(stg.stg.bare)
    assert len(stg.requests.awaiting_promotion(ENV)) == 2

    # WHEN the repository is reachable and the sweep runs
    stg.promote(load_event("scheduled-promoter-sweep"))

    # THEN stg's main names the newest approved commit, not the older one
    assert stg.stg.main == newer


def test_a_redelivered_approval_counts_one_push(
    stg: Stg, pending: ApprovalRequest, counted: dict[str, list[str]]
) -> None:
    # GIVEN Bob approved the request
    _approve(stg, pending)
    event = stg.approved(pending)

    # WHEN the promoter gets "Promotion Approved" twice (EventBridge delivers at least once)
    first, again = stg.promote(event), stg.promote(event)

    # THEN both say PUSHED, and the push is counted once
    assert first == again == {"request_id": pending.id, "promotion": "PUSHED"}
    assert counted["promoter"] == ["Promotions_PUSHED"]


def test_an_approval_of_a_request_owed_no_push_counts_no_promotion(
    stg: Stg, pending: ApprovalRequest, counted: dict[str, list[str]]
) -> None:
    # GIVEN a pending request nobody approved
    # WHEN a stray "Promotion Approved" of it arrives
    result = stg.promote(stg.approved(pending))

    # THEN nothing is pushed, and no promotion is counted (there is no "Promotions_None")
    assert result == {"request_id": pending.id, "promotion": None}
    assert counted["promoter"] == []
    assert stg.stg.main == stg.base


def test_the_sweep_never_moves_main_back_however_many_requests_opened_since_the_newer_push(
    stg: Stg, feature: str
) -> None:
    # GIVEN stg allows non-fast-forward promotions; the feature's request is approved but its push failed
    stg.setting("ALLOW_NON_FAST_FORWARD", "true")
    away = stg.stg.bare.with_name("stg-away.git")
    older = stg.request(
        stg.open(stg.succeeded_in_dev(feature, "execution-feature", "2024-05-14T09:00:00Z"))["request_id"]
    )
    _approve(stg, older)
    stg.stg.bare.rename(away)
    with pytest.raises(PromotionPushFailed):
        stg.promote(stg.approved(older))
    away.rename(stg.stg.bare)
    # GIVEN a newer commit's request approved and pushed
    newer = stg.dev.commit("newer: builds on the feature")
    stg.dev.push_main(newer)
    stg.clock.advance(timedelta(minutes=10))
    request = stg.request(
        stg.open(stg.succeeded_in_dev(newer, "execution-newer", "2024-05-14T09:45:00Z"))["request_id"]
    )
    _approve(stg, request)
    assert stg.promote(stg.approved(request))["promotion"] == "PUSHED"
    # GIVEN 20 late events of older successes since, each opened already superseded
    for n in range(20):
        stg.clock.advance(timedelta(seconds=1))  # each opened after the one before
        stale = stg.open(stg.succeeded_in_dev(stg.base, f"stale-{n}", f"2024-05-14T07:{n:02}:00Z"))
        assert stale["state"] == "SUPERSEDED"

    # WHEN the sweep finds the older approval still owed a push
    swept = stg.promote(load_event("scheduled-promoter-sweep"))

    # THEN it is skipped: stg's main stays at the newer commit
    assert swept == {"swept": {older.id: "SKIPPED"}}
    assert stg.stg.main == newer


# --- separation of duties over the whole promotion ---------------------------------------------------

CAROL_COMMITS = {
    "GIT_AUTHOR_NAME": "Carol Example",
    "GIT_AUTHOR_EMAIL": CAROL,
    "GIT_COMMITTER_NAME": "Carol Example",
    "GIT_COMMITTER_EMAIL": CAROL,
}
SUCCEEDED_AT = "2024-05-14T09:20:00Z"  # in dev, shortly before START


def _main_or_none(repo: Repo) -> str | None:
    listed = git("--git-dir", str(repo.bare), "for-each-ref", "--format=%(objectname)", "refs/heads/main")
    return listed or None


def _open_for(stg: Stg, commit: str) -> ApprovalRequest:
    """The request dev's success of `commit` opens in stg (the prompts sent and read)."""
    opened = stg.open(stg.succeeded_in_dev(commit, str(uuid.uuid4()), SUCCEEDED_AT))
    stg.read_mail()
    return stg.request(opened["request_id"])


def _page(stg: Stg, approver: str, request: ApprovalRequest) -> str:
    """The confirmation page `approver`'s link opens."""
    token = stg.token(approver, request.id)
    return confirmation_page(stg.page().show_link(token), token, stg.clock.now)


@pytest.mark.parametrize("stg_main", ["at an older commit", "empty"])
def test_nobody_who_wrote_a_promoted_commit_can_approve_and_main_does_not_move(
    stg: Stg, tmp_path: Path, stg_main: str
) -> None:
    # GIVEN Alice's commit A and Carol's B on top, both on dev's main; stg's main at base, or empty
    target = stg.stg
    if stg_main == "empty":
        target = make_repo(tmp_path, "stg-empty")
        stg.setting("REPOSITORY_URL", str(target.bare))
    a = stg.dev.commit("A: Alice's half")
    b = stg.dev.commit("B: Carol's half, on top", env=CAROL_COMMITS)
    stg.dev.push_main(b)
    before = _main_or_none(target)

    # WHEN dev's success of B opens stg's request
    request = _open_for(stg, b)

    # THEN the request is for Carol's B, and records everything promoting it brings
    assert (request.commit, request.author_email) == (b, CAROL)
    brought = [b, a] if stg_main != "empty" else [b, a, stg.base]
    assert [c.sha for c in request.commits] == brought
    assert request.commit_count == len(brought)
    assert request.target_head == before
    assert sorted(author.email for author in request.authors) == [ALICE, CAROL]
    assert request.range_complete

    # THEN the mail and the page list those commits and what stg runs now
    runs_now = before[:12] if before else "nothing yet"
    bob_mail = stg.inboxes[BOB].received[0].body
    assert f"Runs now:   {runs_now} in {ENV}" in bob_mail
    assert f"  {b[:12]}  {CAROL}  B: Carol's half, on top" in bob_mail
    assert f"  {a[:12]}  {ALICE}  A: Alice's half" in bob_mail
    assert "You cannot approve this promotion" in stg.inboxes[ALICE].received[0].body
    page = _page(stg, BOB, request)
    assert all(sha[:12] in page for sha in brought) and runs_now in page and CAROL in page
    assert "will be refused" in _page(stg, ALICE, request)

    # WHEN Alice approves on the page (she wrote A, not B), and Carol from the CLI
    head = stg.ledger.chain_head()
    with pytest.raises(SelfApproval, match=a[:12]):
        stg.page().answer_link(stg.token(ALICE, request.id), Verdict.APPROVE)
    with pytest.raises(SelfApproval, match="the author cannot approve"):
        stg.page().answer(request.id, CAROL, Verdict.APPROVE, via=VIA_CLI)

    # THEN nothing is written or announced, and the sweep pushes nothing: stg's main has not moved
    assert stg.ledger.chain_head() == head
    assert stg.request(request.id).state is ApprovalState.PENDING
    assert stg.announced.take() == []
    assert stg.promote(load_event("scheduled-promoter-sweep")) == {"swept": {}}
    assert _main_or_none(target) == before

    # WHEN Bob, who wrote none of them, approves, THEN B is promoted
    approved = stg.page().answer_link(stg.token(BOB, request.id), Verdict.APPROVE)
    assert approved.state is ApprovalState.APPROVED
    assert stg.promote(stg.approved(approved)) == {"request_id": request.id, "promotion": "PUSHED"}
    assert _main_or_none(target) == b
    stg.assert_chain_intact()


def test_the_committer_of_a_promoted_commit_cannot_approve_it(stg: Stg) -> None:
    # GIVEN Carol's commit as Alice committed it (she applied Carol's patch), on dev's main
    patch = stg.dev.commit("Carol's patch, applied by Alice", env={"GIT_AUTHOR_EMAIL": CAROL})
    stg.dev.push_main(patch)
    request = _open_for(stg, patch)
    assert request.author_email == CAROL

    # WHEN Alice approves, THEN she is refused, naming the commit, and nothing is written
    head = stg.ledger.chain_head()
    with pytest.raises(SelfApproval, match=patch[:12]):
        stg.page().answer_link(stg.token(ALICE, request.id), Verdict.APPROVE)
    assert stg.ledger.chain_head() == head
    assert stg.stg.main == stg.base

    # WHEN Bob approves, THEN it is approved
    approved = stg.page().answer_link(stg.token(BOB, request.id), Verdict.APPROVE)
    assert approved.state is ApprovalState.APPROVED


def test_a_long_promotion_shows_50_commits_and_counts_the_rest(stg: Stg) -> None:
    # GIVEN 52 commits by Dave (no approver) on dev's main
    dave = {"GIT_AUTHOR_EMAIL": "dave@example.com", "GIT_COMMITTER_EMAIL": "dave@example.com"}
    commits = [stg.dev.commit(f"step {n}", env=dave) for n in range(52)]
    stg.dev.push_main(commits[-1])

    # WHEN its success opens the request
    request = _open_for(stg, commits[-1])

    # THEN the request, the mail and the page show the newest 50, and say 2 more
    assert (request.commit_count, len(request.commits)) == (52, 50)
    bob_mail = stg.inboxes[BOB].received[0].body
    assert "Promotes:   52 commit(s)" in bob_mail and "  and 2 more" in bob_mail
    assert commits[2][:12] in bob_mail and commits[1][:12] not in bob_mail
    assert "and 2 more" in _page(stg, BOB, request)


@pytest.mark.parametrize("where", ["only in stg's clone", "nowhere"])
def test_a_success_of_a_commit_dev_s_repository_lacks_opens_nothing(stg: Stg, where: str) -> None:
    # GIVEN a success naming a commit dev's repository does not hold
    commit = stg.stg.commit("never pushed to dev") if where != "nowhere" else "f" * 40

    # WHEN it arrives, THEN it is an invalid event, naming the commit field
    with pytest.raises(InvalidEvent, match=r"detail\.commit"):
        stg.open(stg.succeeded_in_dev(commit, str(uuid.uuid4()), SUCCEEDED_AT))

    # THEN nothing was written and nobody was asked
    assert stg.ledger.chain_head() is None
    assert stg.requests.recent(ENV) == []
    assert stg.read_mail() == {approver: [] for approver in APPROVERS}


# --- the upstream account's role ------------------------------------------------------------------------


def _assumed_roles(account: str) -> list[Any]:
    return list(sts_backends[account]["aws"].assumed_roles)


def test_dev_s_repository_is_read_through_the_upstream_role_when_one_is_set(stg: Stg, feature: str) -> None:
    # GIVEN no upstream role: nothing is assumed
    event = load_event("deployment-succeeded-forwarded")
    event["detail"]["commit"] = feature
    without_role = stg.open(event)
    assert _assumed_roles(DEV_ACCOUNT) == []

    # GIVEN stg reads dev's repository through dev's promotion-source role (as template.yaml sets it)
    stg.setting("UPSTREAM_READ_ROLE_ARN", UPSTREAM_ROLE)
    newer = stg.dev.commit("newer")
    stg.dev.push_main(newer)

    # WHEN a success opens a request, and its approval is promoted
    request_id = stg.open(stg.succeeded_in_dev(newer, "execution-newer", "2024-05-14T09:25:00Z"))[
        "request_id"
    ]
    assert request_id != without_role["request_id"]
    opened_with = _assumed_roles(DEV_ACCOUNT)
    _approve(stg, stg.request(request_id))
    # The promoter runs in its own container: its /tmp has not fetched the commit yet.
    shutil.rmtree(Path(tempfile.gettempdir()) / "path2prod-git")
    stg.promote(stg.approved(stg.request(request_id)))

    # THEN moto's STS assumed dev's role (in dev's account) once for the opener and once for the promoter
    assert len(opened_with) == 1
    roles = _assumed_roles(DEV_ACCOUNT)
    assert [(r.role_arn, r.session_name, r.account_id) for r in roles] == [
        (UPSTREAM_ROLE, "path2prod-promotion", DEV_ACCOUNT)
    ] * 2
    assert stg.stg.main == newer


def test_an_upstream_role_arn_sts_rejects_stops_the_opener_before_anything_is_written(
    stg: Stg, feature: str
) -> None:
    # GIVEN an upstream role ARN too short to be one (STS's own RoleArn constraint, checked by botocore)
    stg.setting("UPSTREAM_READ_ROLE_ARN", "arn:aws:iam::1:role")
    event = load_event("deployment-succeeded-forwarded")
    event["detail"]["commit"] = feature

    # WHEN the success arrives, THEN the opener fails (so EventBridge retries) and nothing is written
    with pytest.raises(ParamValidationError, match="RoleArn"):
        stg.open(event)
    assert stg.ledger.chain_head() is None
    assert stg.read_mail() == {approver: [] for approver in APPROVERS}


# --- settings -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "variable", "value"),
    [
        ("approvals", "APPROVERS", None),
        ("approvals", "APPROVERS", " , "),
        ("approvals", "APPROVAL_QUORUM", None),
        ("approvals", "APPROVAL_QUORUM", "0"),
        ("approvals", "APPROVAL_QUORUM", "4"),
        ("approvals", "APPROVAL_QUORUM", "x"),
        ("approvals", "APPROVAL_QUORUM", "-1"),
        ("approvals", "APPROVAL_EXPIRY_HOURS", "0"),
        ("approvals", "REPOSITORY_URL", None),
        ("promoter", "ALLOW_NON_FAST_FORWARD", None),
        ("promoter", "ALLOW_NON_FAST_FORWARD", "yes"),
    ],
)
def test_a_missing_or_invalid_setting_stops_the_function_naming_it(
    stg: Stg, function: str, variable: str, value: str | None
) -> None:
    # GIVEN the function's stack sets the variable wrong (or not at all)
    stg.setting(variable, value)
    event = load_event("deployment-succeeded-forwarded" if function == "approvals" else "promotion-approved")

    # WHEN the function starts on an event, THEN it fails naming the variable, having done nothing
    with pytest.raises(MissingSetting) as missing:
        stg.invoke(function, event)
    assert variable in str(missing.value)
    assert stg.ledger.chain_head() is None
    assert stg.read_mail() == {approver: [] for approver in APPROVERS}


def test_the_same_approver_listed_twice_does_not_make_a_quorum_of_two(stg: Stg, feature: str) -> None:
    # GIVEN Bob listed twice (as people type addresses), and a quorum of 2: only one person could answer
    stg.setting("APPROVERS", f"{BOB},Bob@Example.com")
    stg.setting("APPROVAL_QUORUM", "2")
    event = load_event("deployment-succeeded-forwarded")
    event["detail"]["commit"] = feature

    # WHEN the approvals function starts, THEN it refuses a quorum nobody could reach
    with pytest.raises(MissingSetting, match="APPROVAL_QUORUM"):
        stg.open(event)

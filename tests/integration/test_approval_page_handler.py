"""The approval page's handler in-process against moto, fed the Function URL events of events/.

Each test builds stg's own world: the ledger table from template.yaml's definition, the signing secret in
Secrets Manager, and one PENDING request for a commit Alice wrote; Alice and Bob approve stg, one approval
is enough. A GET or HEAD must never change the table; only a POST decides, once.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.approvals import wiring
from path2prod.approvals.answering import LinkAnswerer
from path2prod.domain.approval_tokens import make_token
from path2prod.domain.approvals import ApprovalRequest, ApprovalState, Upstream, open_request, supersede
from path2prod.domain.time import format_time, parse_time
from path2prod.sandbox.template import table_definition
from tests.support.handlers import function_module
from tests.support.lambda_context import LambdaContext
from tests.support.lambda_env import set_lambda_env

REGION = "eu-west-1"
SECRET = b"stg-approval-signing-key-for-tests"
ALICE, BOB, MALLORY = "alice@example.com", "bob@example.com", "mallory@example.com"
COMMIT = "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948"
PLACEHOLDER = "REPLACE_WITH_TOKEN"
CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"


PAGE_CONTEXT = LambdaContext("path2prod-stg-ApprovalPageFunction", account="222222222222", region=REGION)


@dataclass
class Stg:
    """stg's approvals world in moto, and the page handler that serves it."""

    app: ModuleType
    requests: ApprovalRequests
    load_event: Callable[[str], dict[str, Any]]

    def open(
        self, *, upstream_at: str = "2026-11-02T08:55:00Z", execution: str = "exec-1"
    ) -> ApprovalRequest:
        """A PENDING request, opened now, for a commit Alice wrote; Alice and Bob approve, quorum 1."""
        request = open_request(
            env="stg",
            commit=COMMIT,
            upstream=Upstream(
                env="dev", pipeline="path2prod-app", execution_id=execution, succeeded_at=upstream_at
            ),
            author_name="Alice",
            author_email=ALICE,
            message="first deployment <b>bold</b>",
            approvers=(ALICE, BOB),
            quorum=1,
            now=datetime.now(UTC),
            expiry=timedelta(hours=72),
        )
        return self.requests.write([(None, request)])[0]

    def token(self, request: ApprovalRequest, approver: str) -> str:
        return make_token(SECRET, request.id, approver, request.expires_at)

    def get(self, token: str | None, *, method: str = "GET") -> dict[str, Any]:
        """The page's answer to a link opened with `token` (GET, or HEAD as a mail scanner does)."""
        event = self.load_event("approval-page-get" if method == "GET" else "approval-page-head")
        return self.invoke(_with_token(event, token))

    def post(self, token: str | None, **form: str) -> dict[str, Any]:
        """The page's answer to its form posted with `form` (base64-encoded, as a function URL sends it)."""
        event = _with_token(self.load_event("approval-page-post"), token)
        fields = {"t": token, **form} if token is not None else form
        event["body"] = base64.b64encode(urlencode(fields).encode()).decode()
        event["isBase64Encoded"] = True
        return self.invoke(event)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = self.app.handler(event, PAGE_CONTEXT)
        return response

    def items(self) -> list[dict[str, Any]]:
        """Every item of the table (a test may Scan: it checks that nothing anywhere changed)."""
        pages = self.requests.client.get_paginator("scan").paginate(TableName=self.requests.table_name)
        return sorted((item for page in pages for item in page["Items"]), key=lambda i: json.dumps(i))

    def use_clock(self, monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
        """The handler's approvals, as its wiring builds them, with a clock stopped at `now`."""
        stopped = replace(wiring.page(), clock=lambda: now)
        monkeypatch.setattr(self.app, "approvals", lambda: stopped)


def _with_token(event: dict[str, Any], token: str | None) -> dict[str, Any]:
    event = copy.deepcopy(event)
    if token is None:
        event["rawQueryString"] = ""
        event.pop("queryStringParameters", None)
        return event
    event["rawQueryString"] = event["rawQueryString"].replace(PLACEHOLDER, token)
    event["queryStringParameters"] = {"t": token}
    return event


@pytest.fixture
def stg(monkeypatch: pytest.MonkeyPatch, load_event: Callable[[str], dict[str, Any]]) -> Iterator[Stg]:
    set_lambda_env(monkeypatch, "approval-page", PATH2PROD_ENV="stg", EVENT_BUS_NAME="default")
    with mock_aws():
        table = f"ledger-{uuid.uuid4().hex[:12]}"
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**table_definition(table_name=table))
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=f"path2prod-stg-signing-{uuid.uuid4().hex[:8]}", SecretBinary=SECRET
        )
        monkeypatch.setenv("LEDGER_TABLE", table)
        monkeypatch.setenv("SIGNING_SECRET_ID", secret["ARN"])
        parameters.clear_caches()  # Powertools keeps fetched secrets for minutes, across tests too
        app = function_module("approval_page")  # tracing is disabled by set_lambda_env before the first load
        approvals = app.approvals  # the cached wiring (a test may monkeypatch it away)
        approvals.cache_clear()
        yield Stg(app, ApprovalRequests(LedgerTable(table, dynamodb)), load_event)
        approvals.cache_clear()
        parameters.clear_caches()


def _assert_page_headers(response: dict[str, Any]) -> None:
    headers = {name.lower(): value for name, value in response["headers"].items()}
    assert headers["content-security-policy"].startswith(CSP)
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-type"] == "text/html; charset=utf-8"


# -- GET and HEAD: showing changes nothing --------------------------------------------------------------


def test_get_and_head_show_the_request_any_number_of_times_and_change_nothing(stg: Stg) -> None:
    # GIVEN
    request = stg.open()
    token = stg.token(request, BOB)
    before = stg.items()

    # WHEN
    gets = [stg.get(token) for _ in range(3)]
    heads = [stg.get(token, method="HEAD") for _ in range(3)]

    # THEN
    assert stg.items() == before
    for response in gets:
        assert response["statusCode"] == 200
        _assert_page_headers(response)
        assert COMMIT in response["body"]
        assert "first deployment &lt;b&gt;bold&lt;/b&gt;" in response["body"]
        assert 'name="decision" value="approve"' in response["body"]
    for response in heads:
        assert response["statusCode"] == 200
        assert response["body"] == ""
        assert response["headers"] == gets[0]["headers"]
    assert stg.requests.get(request.id) == request


def test_head_of_a_refused_link_has_the_status_and_no_body(stg: Stg) -> None:
    # GIVEN
    request = stg.open()
    forged = make_token(b"not the stack's secret", request.id, BOB, request.expires_at)

    # WHEN
    response = stg.get(forged, method="HEAD")

    # THEN
    assert response["statusCode"] == 403
    assert response["body"] == ""
    _assert_page_headers(response)


def test_link_without_a_token_is_refused(stg: Stg) -> None:
    # WHEN
    response = stg.get(None)

    # THEN
    assert response["statusCode"] == 403
    assert "this link has no token" in response["body"]
    _assert_page_headers(response)


# -- POST: answering -----------------------------------------------------------------------------------


def test_the_author_cannot_approve_their_own_change(stg: Stg) -> None:
    # GIVEN
    request = stg.open()
    before = stg.items()

    # WHEN
    response = stg.post(stg.token(request, ALICE), decision="approve")

    # THEN
    assert response["statusCode"] == 403
    assert "the author cannot approve their own change" in response["body"]
    _assert_page_headers(response)
    assert stg.items() == before


def test_a_tampered_token_is_refused(stg: Stg) -> None:
    # GIVEN Bob's token, its approver swapped for Mallory (the signature no longer matches)
    request = stg.open()
    request_part, _, expiry, signature = stg.token(request, BOB).split(".")
    mallory = base64.urlsafe_b64encode(MALLORY.encode()).rstrip(b"=").decode()
    tampered = f"{request_part}.{mallory}.{expiry}.{signature}"
    before = stg.items()

    # WHEN
    response = stg.post(tampered, decision="approve")

    # THEN
    assert response["statusCode"] == 403
    assert "not valid" in response["body"]
    assert stg.items() == before


def test_bob_approves_and_the_ledger_records_it_then_a_second_post_is_refused(stg: Stg) -> None:
    # GIVEN
    request = stg.open()
    token = stg.token(request, BOB)
    announcements = _listen_to_promotions()

    # WHEN
    response = stg.post(token, decision="approve")

    # THEN
    assert response["statusCode"] == 200, response["body"]
    _assert_page_headers(response)
    assert f"{BOB} APPROVED commit {COMMIT}" in response["body"]
    assert f"pushing {COMMIT[:12]} to stg main" in response["body"]
    stored = stg.requests.get(request.id)
    assert stored is not None and stored.state is ApprovalState.APPROVED
    assert stored.approved_by == (BOB,)
    (entry,) = [e for e in stg.requests.entries(request.id) if e.kind == "approval"]
    assert (entry.state, entry.trigger, entry.via, entry.commit) == ("APPROVED", BOB, "approval page", COMMIT)
    (announced,) = announcements()
    assert announced["detail"] == {"env": "stg", "request_id": request.id, "commit": COMMIT}

    # WHEN the same form is posted again
    after_first = stg.items()
    again = stg.post(token, decision="approve")

    # THEN
    assert again["statusCode"] == 409
    assert "already APPROVED" in again["body"]
    assert stg.items() == after_first


def test_bob_rejects_with_a_reason(stg: Stg) -> None:
    # GIVEN
    request = stg.open()

    # WHEN
    response = stg.post(stg.token(request, BOB), decision="reject", reason="  <b>needs a migration</b> ")

    # THEN
    assert response["statusCode"] == 200
    assert "(reason: &lt;b&gt;needs a migration&lt;/b&gt;)" in response["body"]
    stored = stg.requests.get(request.id)
    assert stored is not None and stored.state is ApprovalState.REJECTED
    (entry,) = [e for e in stg.requests.entries(request.id) if e.kind == "approval"]
    assert (entry.state, entry.trigger, entry.reason) == ("REJECTED", BOB, "<b>needs a migration</b>")


def test_an_expired_request_is_gone(stg: Stg, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN
    request = stg.open()
    token = stg.token(request, BOB)
    stg.use_clock(monkeypatch, parse_time(request.expires_at) + timedelta(minutes=1))
    before = stg.items()

    # WHEN the link is opened late
    shown = stg.get(token)
    # THEN it is gone, and opening it changed nothing
    assert shown["statusCode"] == 410
    assert stg.items() == before

    # WHEN bob posts his answer late
    posted = stg.post(token, decision="approve")
    # THEN it is refused, and the expiry is written down: the request EXPIRED, one ledger entry
    assert posted["statusCode"] == 410 and "expired" in posted["body"]
    stored = stg.requests.get(request.id)
    assert stored is not None and stored.state.value == "EXPIRED" and not stored.decisions
    expired = [e for e in stg.requests.entries(request.id) if e.state == "EXPIRED"]
    assert len(expired) == 1
    after_first = stg.items()

    # WHEN he posts again THEN still 410, and nothing more is written
    assert stg.post(token, decision="approve")["statusCode"] == 410
    assert stg.items() == after_first


def test_a_superseded_request_is_gone(stg: Stg) -> None:
    # GIVEN an older request, superseded by the request for a newer upstream success
    older = stg.open(execution="exec-1", upstream_at="2026-11-02T08:55:00Z")
    newer = stg.open(execution="exec-2", upstream_at="2026-11-02T09:30:00Z")
    stg.requests.write([(older, supersede(older, newer))])
    token = stg.token(older, BOB)
    before = stg.items()

    # WHEN
    shown = stg.get(token)
    posted = stg.post(token, decision="approve")

    # THEN
    assert (shown["statusCode"], posted["statusCode"]) == (410, 410)
    assert f"superseded by {newer.id}" in posted["body"]
    assert stg.items() == before


def test_a_post_without_a_decision_is_a_bad_request(stg: Stg) -> None:
    # GIVEN
    request = stg.open()
    before = stg.items()

    # WHEN
    missing = stg.post(stg.token(request, BOB))
    unknown = stg.post(stg.token(request, BOB), decision="maybe")

    # THEN
    assert (missing["statusCode"], unknown["statusCode"]) == (400, 400)
    assert "decision must be approve or reject" in missing["body"]
    _assert_page_headers(missing)
    assert stg.items() == before


@pytest.mark.parametrize("body", ["!!not-base64", base64.b64encode(b"t=\xff\xfe&decision=approve").decode()])
def test_a_form_that_cannot_be_read_is_a_bad_request(stg: Stg, body: str) -> None:
    # GIVEN
    request = stg.open()
    event = _with_token(stg.load_event("approval-page-post"), stg.token(request, BOB))
    event["body"] = body
    before = stg.items()

    # WHEN
    response = stg.invoke(event)

    # THEN
    assert response["statusCode"] == 400
    assert "the form could not be read" in response["body"]
    assert stg.items() == before


def _post_as(
    stg: Stg, content_type: str | None, token: str, *, header: str = "content-type"
) -> dict[str, Any]:
    """Bob's approval form posted with `content_type` (None: no Content-Type at all) in `header`."""
    event = _with_token(stg.load_event("approval-page-post"), token)
    event["headers"] = {name: value for name, value in event["headers"].items() if name != "content-type"}
    if content_type is not None:
        event["headers"][header] = content_type
    event["body"] = base64.b64encode(urlencode({"t": token, "decision": "approve"}).encode()).decode()
    event["isBase64Encoded"] = True
    return stg.invoke(event)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/json", "multipart/form-data; boundary=x", None],
    ids=["text", "json", "multipart", "none"],
)
def test_a_post_that_is_not_a_urlencoded_form_is_refused_unread(stg: Stg, content_type: str | None) -> None:
    # GIVEN a genuine form body under another media type
    request = stg.open()
    before = stg.items()

    # WHEN
    response = _post_as(stg, content_type, stg.token(request, BOB))

    # THEN
    assert response["statusCode"] == 415
    assert "application/x-www-form-urlencoded" in response["body"]
    _assert_page_headers(response)
    assert stg.items() == before


@pytest.mark.parametrize(
    ("content_type", "header"),
    [
        ("application/x-www-form-urlencoded; charset=UTF-8", "content-type"),
        ("Application/X-WWW-Form-Urlencoded", "Content-Type"),
    ],
)
def test_a_urlencoded_form_is_taken_whatever_the_case_and_with_its_charset(
    stg: Stg, content_type: str, header: str
) -> None:
    # GIVEN
    request = stg.open()

    # WHEN
    response = _post_as(stg, content_type, stg.token(request, BOB), header=header)

    # THEN
    assert response["statusCode"] == 200, response["body"]
    stored = stg.requests.get(request.id)
    assert stored is not None and stored.approved_by == (BOB,)


def test_an_expired_link_is_refused_on_post_while_its_request_is_pending(stg: Stg) -> None:
    # GIVEN Bob's link, correctly signed, whose own expiry has passed; the request is still pending
    request = stg.open()
    expired = make_token(SECRET, request.id, BOB, format_time(datetime.now(UTC) - timedelta(minutes=1)))
    before = stg.items()

    # WHEN
    shown = stg.get(expired)
    posted = stg.post(expired, decision="approve")

    # THEN both are gone, and nothing is recorded: no approval, no expiry (the request has not expired)
    assert (shown["statusCode"], posted["statusCode"]) == (410, 410)
    assert "expired" in posted["body"]
    assert stg.items() == before
    stored = stg.requests.get(request.id)
    assert stored is not None and stored.state is ApprovalState.PENDING and not stored.decisions


@pytest.mark.parametrize("spelling", ["{} ", "{}\n", " {}"], ids=["space", "newline", "leading-space"])
def test_a_token_with_whitespace_around_it_is_refused(stg: Stg, spelling: str) -> None:
    # GIVEN
    request = stg.open()
    token = spelling.format(stg.token(request, BOB))
    before = stg.items()

    # WHEN
    shown = stg.get(token)
    posted = stg.post(token, decision="approve")

    # THEN
    assert (shown["statusCode"], posted["statusCode"]) == (403, 403)
    assert stg.items() == before


def test_a_post_without_a_token_is_refused(stg: Stg) -> None:
    # GIVEN
    stg.open()
    before = stg.items()

    # WHEN
    response = stg.post(None, decision="approve")

    # THEN
    assert response["statusCode"] == 403
    assert stg.items() == before


# -- everything else -----------------------------------------------------------------------------------


def test_other_methods_are_not_allowed(stg: Stg) -> None:
    # GIVEN
    event = _with_token(stg.load_event("approval-page-get"), "anything")
    event["requestContext"]["http"]["method"] = "PUT"

    # WHEN
    response = stg.invoke(event)

    # THEN
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "GET, HEAD, POST"
    _assert_page_headers(response)


def test_an_unexpected_error_is_a_500_page_without_its_traceback(
    stg: Stg, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN wiring that fails (a broken deployment, say)
    def broken() -> LinkAnswerer:
        raise RuntimeError("internal detail: table arn:aws:dynamodb:secret")

    monkeypatch.setattr(stg.app, "approvals", broken)
    request = stg.open()

    # WHEN
    response = stg.get(stg.token(request, BOB))

    # THEN
    assert response["statusCode"] == 500
    assert "Traceback" not in response["body"] and "internal detail" not in response["body"]
    assert "nothing was decided" in response["body"]
    _assert_page_headers(response)


def _listen_to_promotions() -> Callable[[], list[dict[str, Any]]]:
    """An SQS queue behind a rule on the default bus for "Promotion Approved"; returns a reader."""
    sqs = boto3.client("sqs", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="promotions")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="promotions", EventPattern=json.dumps({"detail-type": ["Promotion Approved"]}))
    events.put_targets(Rule="promotions", Targets=[{"Id": "queue", "Arn": arn}])

    def read() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return read

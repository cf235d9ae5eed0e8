"""The approval page served as the sandbox serves it, clicked in a real browser.

moto's server holds stg's ledger table, signing secret and one PENDING request; the page's handler runs
behind `path2prod.sandbox.function_url` (a subprocess, with the function's environment from
template.yaml), and Debian's headless Chromium, driven by Selenium through Debian's chromedriver, opens
Bob's link and clicks Approve. `make test` installs both (`make chromium`); without them these tests
fail, saying so.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import boto3
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.domain.approval_tokens import make_token
from path2prod.domain.approvals import ApprovalRequest, ApprovalState, Upstream, open_request
from path2prod.sandbox.function_url import function_url_event
from path2prod.sandbox.functions import SandboxFunction
from path2prod.sandbox.template import table_definition

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account for plain (non-STS) credentials
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
SECRET = b"stg-approval-signing-key-for-the-browser-test"
ALICE, BOB = "alice@example.com", "bob@example.com"
COMMIT = "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948"
MESSAGE = "ship the <script>alert('x')</script> fix"
PAGE = SandboxFunction(name="approval_page", logical_id="ApprovalPageFunction")


@dataclass
class StgPage:
    """stg's page served on 127.0.0.1, the request it shows, and the table behind it."""

    url: str
    request: ApprovalRequest
    requests: ApprovalRequests
    log: Path

    def link(self, approver: str) -> str:
        return f"{self.url}/?t={make_token(SECRET, self.request.id, approver, self.request.expires_at)}"

    def items(self) -> list[dict[str, Any]]:
        """Every item of the table (a test may Scan: it checks that nothing anywhere changed)."""
        pages = self.requests.client.get_paginator("scan").paginate(TableName=self.requests.table_name)
        return sorted((item for page in pages for item in page["Items"]), key=repr)


@pytest.fixture
def stg_page(aws_endpoint: str, tmp_path: Path) -> Iterator[StgPage]:
    # GIVEN stg's table, secret and a request for Alice's commit, in moto's server
    clients: dict[str, Any] = {"endpoint_url": aws_endpoint, "region_name": REGION}
    clients.update({name.lower(): value for name, value in CREDENTIALS.items()})
    dynamodb = boto3.client("dynamodb", **clients)
    table = f"ledger-{uuid.uuid4().hex[:12]}"
    dynamodb.create_table(**table_definition(table_name=table))
    secret_arn = boto3.client("secretsmanager", **clients).create_secret(
        Name=f"path2prod-stg-signing-{uuid.uuid4().hex[:8]}", SecretBinary=SECRET
    )["ARN"]
    requests = ApprovalRequests(LedgerTable(table, dynamodb))
    opened = open_request(
        env="stg",
        commit=COMMIT,
        upstream=Upstream(
            env="dev", pipeline="path2prod-app", execution_id="exec-1", succeeded_at="2026-11-02T08:55:00Z"
        ),
        author_name="Alice",
        author_email=ALICE,
        message=MESSAGE,
        approvers=(ALICE, BOB),
        quorum=1,
        now=datetime.now(UTC),
        expiry=timedelta(hours=72),
    )
    request = requests.write([(None, opened)])[0]

    # ... and the page, with the environment template.yaml gives the function
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))},
        **PAGE.environment(
            {
                "AWS::AccountId": ACCOUNT,
                "Environment": "stg",
                "PipelineName": "path2prod-app",
                "LedgerTable": table,
                "ApprovalSigningSecret": secret_arn,
            }
        ),
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "SANDBOX_ACCOUNT_ID": ACCOUNT,
        "AWS_LAMBDA_FUNCTION_NAME": "path2prod-stg-approval_page",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "page.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "path2prod.sandbox.function_url", str(PAGE.code_dir), PAGE.handler, "0"],
            env=environment,
            cwd=PAGE.code_dir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield StgPage(_wait_until_listening(process, log), request, requests, log)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_listening(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    pytest.fail(f"the page's function URL did not start:\n{log.read_text(errors='replace')[-3000:]}")


def chromium(profile: Path) -> webdriver.Chrome:
    """Debian's headless Chromium under Debian's chromedriver (Selenium Manager never downloads one)."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        assert path.exists(), (
            f"{path} is missing: the approval page's browser test needs Debian's {package} "
            "(run `make chromium`, or `apt-get install --no-install-recommends chromium chromium-driver`)"
        )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))


def test_bob_opens_his_link_in_chromium_and_approves(stg_page: StgPage, tmp_path: Path) -> None:
    # GIVEN
    browser = chromium(tmp_path / "profile")
    try:
        # WHEN Bob opens his link
        browser.get(stg_page.link(BOB))

        # THEN he sees the commit and its message, as text
        shown = browser.find_element(By.TAG_NAME, "body").text
        assert COMMIT in shown
        assert MESSAGE in shown
        assert "Alice <alice@example.com>" in shown
        assert browser.find_elements(By.TAG_NAME, "script") == []
        assert stg_page.requests.get(stg_page.request.id) == stg_page.request

        # WHEN he writes a comment and clicks Approve
        browser.find_element(By.ID, "approve-reason").send_keys("looks <b>good</b>")
        browser.find_element(By.CSS_SELECTOR, 'button[name="decision"][value="approve"]').click()
        WebDriverWait(browser, 20).until(expected_conditions.title_contains("APPROVED"))

        # THEN the outcome page says so, and nothing broke the page's own security policy
        outcome = browser.find_element(By.TAG_NAME, "body").text
        assert "The request is now APPROVED" in outcome
        assert f"pushing {COMMIT[:12]} to stg main" in outcome
        assert "(reason: looks <b>good</b>)" in outcome  # his comment, shown as text
        policy_violations = [
            entry["message"]
            for entry in browser.get_log("browser")
            if "Content Security Policy" in entry["message"]
        ]
        assert policy_violations == []
    finally:
        browser.quit()
    stored = stg_page.requests.get(stg_page.request.id)
    assert stored is not None and stored.state is ApprovalState.APPROVED
    assert stored.approved_by == (BOB,)
    assert stored.decisions[-1].reason == "looks <b>good</b>"


def test_fetching_the_link_with_get_then_head_changes_nothing(stg_page: StgPage) -> None:
    # GIVEN
    before = stg_page.items()
    link = stg_page.link(BOB)

    # WHEN a mail scanner fetches the link, then checks it
    with urllib.request.urlopen(urllib.request.Request(link, method="GET"), timeout=30) as got:
        get_status, get_headers, get_body = got.status, dict(got.headers), got.read()
    with urllib.request.urlopen(urllib.request.Request(link, method="HEAD"), timeout=30) as headed:
        head_status, head_headers, head_body = headed.status, dict(headed.headers), headed.read()

    # THEN
    assert (get_status, head_status) == (200, 200)
    assert COMMIT.encode() in get_body
    assert head_body == b""
    for headers in (get_headers, head_headers):
        assert headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert headers["Cache-Control"] == "no-store"
    assert stg_page.items() == before
    assert stg_page.requests.get(stg_page.request.id) == stg_page.request


def test_the_sandbox_turns_a_form_post_into_a_function_url_event() -> None:
    # GIVEN
    headers = Message()
    headers["Host"] = "127.0.0.1:8765"
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    headers["User-Agent"] = "Chromium"
    headers["Cookie"] = "a=1; b=2"
    headers["X-Twice"] = "one"
    headers["X-Twice"] = "two"
    now = datetime(2026, 11, 2, 9, 0, 1, 250_000, tzinfo=UTC)

    # WHEN
    event = function_url_event(
        "POST",
        "/?t=abc&x=1&x=2",
        headers,
        b"t=abc&decision=approve",
        source_ip="127.0.0.1",
        host="127.0.0.1:8765",
        account=ACCOUNT,
        now=now,
    )

    # THEN (payload format 2.0: lowercased headers, repeated values comma-joined, cookies apart)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert (event["rawPath"], event["rawQueryString"]) == ("/", "t=abc&x=1&x=2")
    assert event["queryStringParameters"] == {"t": "abc", "x": "1,2"}
    assert event["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert event["headers"]["x-twice"] == "one,two"
    assert "cookie" not in event["headers"] and event["cookies"] == ["a=1", "b=2"]
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "Chromium",
    }
    assert (context["accountId"], context["stage"], context["domainName"]) == (
        ACCOUNT,
        "$default",
        "127.0.0.1:8765",
    )
    assert (context["time"], context["timeEpoch"]) == ("02/Nov/2026:09:00:01 +0000", 1793610001250)
    # A form is not text to a function URL: it arrives base64-encoded.
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"t=abc&decision=approve"

"""The approval page's HTML: hostile git metadata stays text, forms only POST, and no script anywhere."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from path2prod.approvals.answering import LinkView
from path2prod.approvals.page import PAGE_HEADERS, confirmation_page, error_page, outcome_page
from path2prod.approvals.web import page_router
from path2prod.domain.approvals import (
    ApprovalRequest,
    ApprovalState,
    Upstream,
    Verdict,
    decide,
    open_request,
)
from path2prod.domain.errors import RequestGone

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
COMMIT = "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948"
TOKEN = "apr-0123.Ym9iQGV4YW1wbGUuY29t.1793955600.c2lnbmF0dXJl"
HOSTILE_MESSAGE = "fix <script>alert('pwned')</script> & \"quote\" <img src=x onerror=alert(1)>"
HOSTILE_NAME = 'Mallory "<b>the builder</b>"'
HOSTILE_EMAIL = "mallory@example.com'><script>alert(2)</script>"


def request(
    *, message: str = "first deployment", name: str = "Alice", email: str = "alice@example.com"
) -> ApprovalRequest:
    return open_request(
        env="stg",
        commit=COMMIT,
        upstream=Upstream(
            env="dev",
            pipeline="path2prod-app",
            execution_id="e2f2be32-8f1a-4c59-a6b0-6f1d2b3c4d5e",
            succeeded_at="2026-11-02T08:55:00Z",
        ),
        author_name=name,
        author_email=email,
        message=message,
        approvers=("alice@example.com", "bob@example.com", "carol@example.com"),
        quorum=2,
        now=NOW,
        expiry=timedelta(hours=72),
    )


def view(req: ApprovalRequest, approver: str = "bob@example.com", *, can_answer: bool = True) -> LinkView:
    why_not = None if can_answer else "this request is already APPROVED"
    state = req.state if can_answer else ApprovalState.APPROVED
    return LinkView(req, approver, state, can_answer, why_not)


def forms(page: str) -> list[str]:
    return re.findall(r"<form\b[^>]*>.*?</form>", page, flags=re.DOTALL)


def test_hostile_message_and_author_are_shown_as_text_not_markup() -> None:
    # GIVEN
    hostile = request(message=HOSTILE_MESSAGE, name=HOSTILE_NAME, email=HOSTILE_EMAIL)

    # WHEN
    page = confirmation_page(view(hostile), TOKEN, NOW)

    # THEN
    assert "<script" not in page.lower()
    assert "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "&amp; &quot;quote&quot; &lt;img src=x onerror=alert(1)&gt;" in page
    assert "Mallory &quot;&lt;b&gt;the builder&lt;/b&gt;&quot;" in page
    assert "mallory@example.com&#x27;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_control_and_bidi_characters_of_a_commit_never_reach_the_page() -> None:
    # GIVEN a message and author carrying escape codes, NUL, BEL and a right-to-left override
    hostile = request(
        message="fix\x1b[31m red\x00\x07\n\nbody \u202egnp.exe",
        name="Mall\u202eory\x1b]0;title\x07",
        email="mallory@example.com\x9b",
    )

    # WHEN
    page = confirmation_page(view(hostile), TOKEN, NOW)

    # THEN none of them is on the page; the message keeps its lines
    for character in ("\x1b", "\x00", "\x07", "\u202e", "\x9b"):
        assert character not in page
    assert "<pre>fix red\n\nbody gnp.exe</pre>" in page
    assert "Mallory &lt;mallory@example.com&gt;" in page


def test_page_shows_the_commit_its_upstream_quorum_expiry_and_whose_link_it_is() -> None:
    # GIVEN
    approved_once = decide(request(), "carol@example.com", Verdict.APPROVE, now=NOW, via="approval page")

    # WHEN
    page = confirmation_page(view(approved_once), TOKEN, NOW)

    # THEN
    assert COMMIT in page
    assert "first deployment" in page
    assert "Alice &lt;alice@example.com&gt;" in page
    assert "SUCCEEDED in dev, execution e2f2be32-8f1a-4c59-a6b0-6f1d2b3c4d5e at 2026-11-02T08:55:00Z" in page
    assert "1 of 2 needed: carol@example.com" in page
    assert "carol@example.com APPROVED at 2026-11-02T09:00:00Z via approval page" in page
    assert "2026-11-05T09:00:00Z (in 72 h 0 min)" in page
    assert "<strong>bob@example.com</strong>" in page


def test_answerable_link_has_two_post_forms_each_with_its_comment_and_no_script() -> None:
    # WHEN
    page = confirmation_page(view(request()), TOKEN, NOW)

    # THEN each form posts the token, its own comment and its own decision
    approve, reject = forms(page)
    for form, decision in ((approve, "approve"), (reject, "reject")):
        assert form.startswith('<form method="post" action="">')
        assert f'<input type="hidden" name="t" value="{TOKEN}">' in form
        assert f'<textarea id="{decision}-reason" name="reason" rows="2" maxlength="500"' in form
        assert form.count('name="decision"') == 1
    assert '<button type="submit" class="approve" name="decision" value="approve">Approve</button>' in approve
    assert '<button type="submit" class="reject" name="decision" value="reject">Reject</button>' in reject
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    assert not re.search(r"\son[a-z]+=", page), "no inline event handlers"
    assert 'method="get"' not in page.lower()


def test_token_in_the_form_is_escaped_too() -> None:
    # GIVEN a token that is not what path2prod makes (the page shows what the URL carried)
    odd = 'x"><script>alert(3)</script>'

    # WHEN
    page = confirmation_page(view(request()), odd, NOW)

    # THEN
    assert "<script" not in page
    assert 'value="x&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;"' in page


def test_no_buttons_when_the_viewer_cannot_answer() -> None:
    # WHEN
    page = confirmation_page(view(request(), can_answer=False), TOKEN, NOW)

    # THEN
    assert forms(page) == []
    assert "<button" not in page
    assert "You cannot answer: this request is already APPROVED." in page


def test_the_author_is_told_approving_will_be_refused() -> None:
    # WHEN
    own = confirmation_page(view(request(), "Alice@Example.com "), TOKEN, NOW)
    someone_elses = confirmation_page(view(request(), "bob@example.com"), TOKEN, NOW)

    # THEN
    assert "You wrote this commit: approving it will be refused" in own
    assert "the author cannot approve their own change" in own
    assert "You wrote this commit" not in someone_elses


def test_outcome_page_says_what_was_recorded_and_that_the_commit_is_being_pushed() -> None:
    # GIVEN
    once = decide(request(), "carol@example.com", Verdict.APPROVE, now=NOW, via="approval page")
    approved = decide(once, "bob@example.com", Verdict.APPROVE, now=NOW, via="approval page")

    # WHEN
    page = outcome_page(approved, "bob@example.com")

    # THEN
    assert f"bob@example.com APPROVED commit {COMMIT} at 2026-11-02T09:00:00Z" in page
    assert '<span class="state">APPROVED</span>' in page
    assert "pushing dfd3156a8ff6 to stg main" in page
    assert "<form" not in page


def test_outcome_page_of_a_rejection_escapes_the_reason_and_pushes_nothing() -> None:
    # GIVEN
    rejected = decide(
        request(message=HOSTILE_MESSAGE),
        "bob@example.com",
        Verdict.REJECT,
        now=NOW,
        via="approval page",
        reason="<i>not today</i>",
    )

    # WHEN
    page = outcome_page(rejected, "bob@example.com")

    # THEN
    assert "(reason: &lt;i&gt;not today&lt;/i&gt;)" in page
    assert '<span class="state">REJECTED</span>' in page
    assert "nothing will be pushed to stg" in page
    assert "pushing" not in page
    assert "<script" not in page


def test_outcome_page_of_a_first_approval_says_how_many_are_still_needed() -> None:
    # GIVEN
    once = decide(request(), "bob@example.com", Verdict.APPROVE, now=NOW, via="approval page")

    # WHEN
    page = outcome_page(once, "bob@example.com")

    # THEN
    assert '<span class="state">PENDING</span>' in page
    assert "waiting for 1 more approval(s)" in page


def test_error_page_escapes_its_message_and_names_the_status() -> None:
    # WHEN
    page = error_page(410, 'request <apr-1> was superseded by "apr-2"')

    # THEN
    assert "<h1>410 Gone</h1>" in page
    assert "request &lt;apr-1&gt; was superseded by &quot;apr-2&quot;" in page
    assert "<script" not in page


def test_the_pages_need_nothing_the_security_policy_forbids() -> None:
    # GIVEN
    pages = [
        confirmation_page(view(request()), TOKEN, NOW),
        outcome_page(replace(request(), state=ApprovalState.REJECTED), "bob@example.com"),
        error_page(403, "no"),
    ]

    # THEN: no external resource, no script, only inline style
    policy = PAGE_HEADERS["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "style-src 'unsafe-inline'" in policy
    assert "form-action 'self'" in policy
    for page in pages:
        assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page)
        assert not re.search(r"\b(src|href)=", page)
        assert page.startswith("<!DOCTYPE html>")


# -- the router (web.py): the page's three routes on the Function URL, without Powertools' event_handler --


@dataclass
class _Answerer:
    """The LinkAnswerer's two calls, answering from `req` (or raising `fails` when set)."""

    req: ApprovalRequest
    fails: Exception | None = None
    shown: list[str] = field(default_factory=list)

    def clock(self) -> datetime:
        return NOW

    def show_link(self, token: str) -> LinkView:
        if self.fails:
            raise self.fails
        self.shown.append(token)
        return view(self.req)

    def answer_link(self, token: str, verdict: Verdict, *, reason: str | None = None) -> ApprovalRequest:
        return decide(self.req, "bob@example.com", verdict, now=NOW, via="approval page", reason=reason)


class _Counted:
    """Powertools' Metrics and Logger as the router uses them: what it counts and logs, kept."""

    def __init__(self) -> None:
        self.metrics: list[str] = []
        self.logged: list[str] = []

    def add_metric(self, *, name: str, unit: Any, value: float) -> None:
        self.metrics.append(name)

    def info(self, message: str, **_: Any) -> None:
        self.logged.append(message)

    def exception(self, message: str) -> None:
        self.logged.append(message)


class _Context:
    aws_request_id = "c91f4a6e-request"


def _route(
    load_event: Callable[[str], dict[str, Any]],
    answerer: _Answerer,
    *,
    method: str,
    path: str = "/",
    body: str | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> tuple[dict[str, Any], _Counted]:
    event = load_event("approval-page-post" if method == "POST" else "approval-page-get")
    event["requestContext"]["http"]["method"] = method
    event["rawPath"] = path
    event["queryStringParameters"] = {"t": TOKEN}
    event["headers"]["content-type"] = content_type
    if body is not None:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body.encode()).decode(), True
    counted = _Counted()
    router = page_router(lambda: answerer, logger=cast(Any, counted), metrics=cast(Any, counted))
    return router.resolve(event, cast(Any, _Context())), counted


def test_router_answers_get_and_head_alike_but_head_has_no_body(load_event: Callable[..., Any]) -> None:
    # GIVEN a link's request
    answerer = _Answerer(request())

    # WHEN the link is opened, then fetched with HEAD (as mail scanners do)
    shown, _ = _route(load_event, answerer, method="GET")
    head, _ = _route(load_event, answerer, method="head")

    # THEN both show it, with the same status and headers, in the Function URL's response shape
    assert list(shown) == ["statusCode", "body", "isBase64Encoded", "headers", "cookies"]
    assert (shown["statusCode"], shown["headers"], shown["cookies"]) == (200, PAGE_HEADERS, [])
    assert shown["isBase64Encoded"] is False and "<form" in shown["body"]
    assert {**head, "body": shown["body"]} == shown and head["body"] == ""
    assert answerer.shown == [TOKEN, TOKEN]


def test_router_records_a_posted_answer_and_counts_it(load_event: Callable[..., Any]) -> None:
    # WHEN Bob posts the page's Approve form
    response, counted = _route(
        load_event, _Answerer(request()), method="POST", body=f"t={TOKEN}&decision=approve&reason=ok"
    )

    # THEN the outcome page says what was recorded
    assert response["statusCode"] == 200
    assert "bob@example.com APPROVED commit" in response["body"] and "(reason: ok)" in response["body"]
    assert counted.metrics == ["AnswerApproved"] and counted.logged == ["answer recorded"]


def test_router_refuses_other_methods_with_405_and_other_paths_with_404(
    load_event: Callable[..., Any],
) -> None:
    # WHEN the page is asked with PUT, and another path with GET
    put, _ = _route(load_event, _Answerer(request()), method="PUT")
    elsewhere, counted = _route(load_event, _Answerer(request()), method="GET", path="/favicon.ico")

    # THEN 405 naming the methods it answers, and 404; both pages carry the page's headers
    assert (put["statusCode"], put["headers"]) == (405, {**PAGE_HEADERS, "Allow": "GET, HEAD, POST"})
    assert (elsewhere["statusCode"], elsewhere["headers"]) == (404, PAGE_HEADERS)
    assert counted.metrics == ["NotRouted"]


def test_router_maps_refusals_to_their_status_and_anything_else_to_a_500_page(
    load_event: Callable[..., Any],
) -> None:
    # WHEN the rules refuse a link, a form is not urlencoded, and the wiring breaks
    gone, refused = _route(load_event, _Answerer(request(), fails=RequestGone("it expired")), method="GET")
    json_post, _ = _route(
        load_event, _Answerer(request()), method="POST", body="{}", content_type="text/json"
    )
    broken, failed = _route(load_event, _Answerer(request(), fails=RuntimeError("arn:secret")), method="GET")

    # THEN each refusal has its own status and page; the failure a 500 page without its detail
    assert (gone["statusCode"], refused.metrics) == (410, ["Refused410"])
    assert "it expired" in gone["body"]
    assert json_post["statusCode"] == 415
    assert (broken["statusCode"], failed.metrics, failed.logged) == (
        500,
        ["Failed"],
        ["the approval page failed"],
    )
    assert "arn:secret" not in broken["body"] and "c91f4a6e-request" in broken["body"]


def test_router_lets_an_event_that_is_no_function_url_request_raise(load_event: Callable[..., Any]) -> None:
    # GIVEN an event without its request context (not what a Function URL sends)
    event = load_event("approval-page-get")
    del event["requestContext"]
    router = page_router(
        lambda: _Answerer(request()), logger=cast(Any, _Counted()), metrics=cast(Any, _Counted())
    )

    # WHEN / THEN it raises, as Powertools' resolver did: Lambda reports the invocation as failed
    with pytest.raises(KeyError):
        router.resolve(event, cast(Any, _Context()))

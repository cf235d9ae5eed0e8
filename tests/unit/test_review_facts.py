"""Pure rules of what approvers review and what follows an answer: the request's capped facts, who hears
of a rejection, what may be asked again, the own-account events' parsers, and the page's and mail's text."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from path2prod.approvals import events as own_events
from path2prod.approvals.answering import LinkView
from path2prod.approvals.event_shapes import PROMOTION_REJECTED
from path2prod.approvals.mail import prompt, rejection
from path2prod.approvals.page import confirmation_page
from path2prod.domain.approvals import (
    MAX_COMMENT_LENGTH,
    ApprovalRequest,
    ApprovalState,
    Upstream,
    Verdict,
    check_can_ask_again,
    decide,
    open_request,
    rejection_recipients,
    request_id,
)
from path2prod.domain.errors import AlreadyDecided, ApprovalError, InvalidEvent
from path2prod.domain.review_facts import (
    MAX_FILES_SHOWN,
    MAX_PATH_LENGTH,
    ChangedFile,
    DiffStat,
    PromotedCommit,
    PromotedRange,
)
from path2prod.domain.time import format_time, parse_time

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ALICE, BOB, CAROL, DAVE = "alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"
CANDIDATE, HEAD = "c" * 40, "a" * 40
UPSTREAM = Upstream(
    env="dev",
    pipeline="path2prod-app",
    execution_id="e2f2be32-8f1a-4c59-a6b0-6f1d2b3c4d5e",
    succeeded_at="2026-11-02T08:55:00Z",
)
PAGE = "https://page.example/"


def _request(*, author: str = DAVE, promoted: PromotedRange | None = None, **changes: Any) -> ApprovalRequest:
    request = open_request(
        env="stg",
        commit=CANDIDATE,
        upstream=UPSTREAM,
        author_name="Dave",
        author_email=author,
        message="C: the candidate",
        approvers=(ALICE, BOB, CAROL),
        quorum=1,
        now=NOW,
        expiry=timedelta(hours=72),
        promoted=promoted,
    )
    return replace(request, **changes)


def _range(files: tuple[ChangedFile, ...], *, file_count: int | None = None) -> PromotedRange:
    commits = (
        PromotedCommit(CANDIDATE, "Dave", DAVE, DAVE, "C: the candidate"),
        PromotedCommit("b" * 40, "Dave", DAVE, DAVE, "B: the one before"),
    )
    added = sum(f.added or 0 for f in files)
    stat = DiffStat(files=files, file_count=file_count or len(files), added=added, removed=1)
    return PromotedRange(target_head=HEAD, commits=commits, target_subject="A: what runs", diffstat=stat)


# -- the request's facts --------------------------------------------------------------------------------


def test_a_request_keeps_what_the_env_runs_and_at_most_100_files_with_the_totals_of_all() -> None:
    # GIVEN a promotion that changes 150 files, one with a very long path
    files = tuple(ChangedFile(f"{'d/' * 200}{n}.txt", "M", 2, 1) for n in range(150))

    # WHEN its request opens
    request = _request(promoted=_range(files))

    # THEN it keeps what stg runs, 100 files with cut paths, and counts all 150
    assert (request.target_head, request.target_subject) == (HEAD, "A: what runs")
    assert len(request.files) == MAX_FILES_SHOWN == 100
    assert all(len(f.path) == MAX_PATH_LENGTH for f in request.files)
    assert (request.file_count, request.lines_added, request.lines_removed) == (150, 300, 1)


def test_a_request_opened_without_a_diffstat_says_its_files_were_not_compared() -> None:
    # WHEN the upstream repository lacked what stg runs (no diffstat)
    request = _request(promoted=PromotedRange(target_head=HEAD, commits=()))

    # THEN
    assert (request.file_count, request.files, request.target_subject) == (None, (), None)


def test_a_comment_is_kept_with_either_answer_up_to_its_limit() -> None:
    # GIVEN a pending request
    request = _request()

    # WHEN bob approves with a comment, THEN it is kept
    approved = decide(request, BOB, Verdict.APPROVE, now=NOW, via="cli", reason="ship it")
    assert approved.decisions[-1].reason == "ship it"
    # WHEN the comment is one character too long, THEN it is refused
    with pytest.raises(ApprovalError, match=str(MAX_COMMENT_LENGTH)):
        decide(request, BOB, Verdict.REJECT, now=NOW, via="cli", reason="x" * (MAX_COMMENT_LENGTH + 1))


# -- a rejection is told --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("author", "rejecter", "told"),
    [
        (DAVE, BOB, (DAVE, ALICE, CAROL)),  # an author who is no approver, and every other approver
        (ALICE, BOB, (ALICE, CAROL)),  # an author who is an approver hears it once
        ("Alice@Example.com ", ALICE, (BOB, CAROL)),  # the author rejected: told the others only
    ],
)
def test_a_rejection_is_told_to_the_author_and_every_approver_but_the_rejecter(
    author: str, rejecter: str, told: tuple[str, ...]
) -> None:
    # GIVEN a request rejected by `rejecter`
    rejected = decide(_request(author=author), rejecter, Verdict.REJECT, now=NOW, via="cli")

    # WHEN / THEN
    assert rejection_recipients(rejected) == told


def test_the_rejection_mail_names_who_rejected_the_comment_how_to_ask_again_and_the_request() -> None:
    # GIVEN bob rejected with a comment holding a line break and an escape code
    rejected = decide(
        _request(), BOB, Verdict.REJECT, now=NOW, via="approval page", reason="no\nhttp://x \x1b[2J"
    )

    # WHEN dave's mail is written
    subject, body = rejection(rejected, DAVE)

    # THEN
    assert subject.startswith(f"path2prod: {CANDIDATE[:12]} rejected for stg by {BOB}")
    assert "Comment:    no http://x " in body and "\x1b" not in body
    assert f"  path2prod approvals request stg {CANDIDATE}" in body
    assert body.splitlines()[-1] == f"Request: {rejected.id}"
    assert not [line for line in body.splitlines() if line.startswith("http")]


# -- asking again ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [ApprovalState.REJECTED, ApprovalState.EXPIRED])
def test_a_rejected_or_expired_request_can_be_asked_again(state: ApprovalState) -> None:
    # WHEN / THEN nothing is raised
    check_can_ask_again(_request(state=state), NOW)


@pytest.mark.parametrize("state", [ApprovalState.PENDING, ApprovalState.APPROVED, ApprovalState.SUPERSEDED])
def test_a_request_someone_can_answer_or_that_was_approved_or_superseded_cannot(state: ApprovalState) -> None:
    # WHEN / THEN
    with pytest.raises(AlreadyDecided, match="only a REJECTED or EXPIRED request"):
        check_can_ask_again(_request(state=state), NOW)


def test_a_pending_request_past_its_expiry_can_be_asked_again() -> None:
    # GIVEN a request stored PENDING whose expiry has passed
    request = _request()

    # WHEN / THEN
    check_can_ask_again(request, NOW + timedelta(hours=73))


def test_asking_again_names_one_new_request_per_earlier_request() -> None:
    # GIVEN a request
    first = request_id("stg", UPSTREAM, CANDIDATE)

    # WHEN it is asked again (twice), and the second one asked again
    again = request_id("stg", UPSTREAM, CANDIDATE, again_after=first)
    third = request_id("stg", UPSTREAM, CANDIDATE, again_after=again)

    # THEN each is a new, stable, well-formed id
    assert len({first, again, third}) == 3
    assert again == request_id("stg", UPSTREAM, CANDIDATE, again_after=first)
    assert own_events.REQUEST_ID.fullmatch(again)


# -- the own-account events -----------------------------------------------------------------------------


def _event(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {"source": "path2prod", "detail-type": detail_type, "detail": detail}


def test_the_sample_events_parse(load_event: Any) -> None:
    # WHEN
    rejection = own_events.parse_rejection(load_event("promotion-rejected"))
    again = own_events.parse_ask_again(load_event("approval-requested-again"))

    # THEN
    assert (rejection.env, rejection.request_id) == ("stg", "apr-b9461e30f56bad45c58a")
    assert again.requested_by.endswith("/carol@example.com") and again.previous_request_id.startswith("apr-")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("requested_by", ""),
        ("requested_by", "carol\n@example.com"),
        ("requested_by", "x" * 2049),
        ("previous_request_id", "apr-../../x"),
        ("commit", "HEAD"),
        ("env", "qa"),
    ],
)
def test_a_malformed_ask_again_is_refused_naming_its_field(load_event: Any, field: str, value: str) -> None:
    # GIVEN the sample with one field broken
    event = copy.deepcopy(load_event("approval-requested-again"))
    event["detail"][field] = value

    # WHEN / THEN
    with pytest.raises(InvalidEvent, match=rf"detail\.{field}"):
        own_events.parse_ask_again(event)


def test_an_event_of_another_source_is_refused() -> None:
    # WHEN / THEN
    with pytest.raises(InvalidEvent, match="source"):
        own_events.detail_type({"source": "aws.events", "detail-type": PROMOTION_REJECTED})


# -- the page and the mail ------------------------------------------------------------------------------


def test_the_page_and_the_mail_show_runs_now_commits_and_files_escaped() -> None:
    # GIVEN a request whose files hold markup, a binary file and more than the request keeps
    files = (
        ChangedFile("<b>x</b>.txt", "A", 3, 0),
        ChangedFile("logo.png", "M", None, None),
    )
    request = _request(promoted=_range(files, file_count=4))

    # WHEN
    page = confirmation_page(LinkView(request, BOB, request.state, True, None), "tok", NOW)
    _, mail = prompt(request, BOB, f"{PAGE}?t=tok")

    # THEN the page
    assert "<code>aaaaaaaaaaaa</code> A: what runs in stg" in page
    assert "B: the one before" in page and "C: the candidate" in page
    assert "&lt;b&gt;x&lt;/b&gt;.txt" in page and "<b>x</b>" not in page
    assert "4 file(s) changed" in page and "and 2 more" in page and "no lines" in page
    # THEN the mail
    assert "Runs now:   aaaaaaaaaaaa in stg: A: what runs" in mail
    assert "Files:      4 file(s) changed, +3 -1" in mail
    assert "  and 2 more" in mail
    assert [line for line in mail.splitlines() if line.startswith("http")] == [
        line for line in mail.splitlines() if line.startswith(PAGE)
    ]
    assert mail.splitlines()[-1] == f"Request: {request.id}"


def test_a_carriage_return_in_a_subject_cannot_start_a_line_of_the_mail() -> None:
    # GIVEN a candidate whose subject holds a lone "\r" and a link (git keeps it in the first line)
    request = _request(message="fix\rhttp://attacker.example/?t=x")

    # WHEN bob's mail is written, and SNS's cleaning (ApprovalPrompts) is applied to it
    from path2prod.domain.text import printable

    _, body = prompt(request, BOB, f"{PAGE}?t=tok")
    sent = printable(body, keep_newlines=True)

    # THEN the only line starting with http is his link
    assert [line for line in sent.splitlines() if line.startswith("http")] == [f"{PAGE}?t=tok"]


def test_the_prompt_says_when_a_bake_time_or_a_closed_window_would_hold_an_approval() -> None:
    # GIVEN a request whose upstream bakes for 30 minutes after its success
    request = _request(upstream=replace(UPSTREAM, bake_minutes=30))
    ends = format_time(parse_time(UPSTREAM.succeeded_at) + timedelta(minutes=30))

    # WHEN bob's mail is written while stg's window is closed, and once for an upstream with no bake time
    _, held = prompt(request, BOB, f"{PAGE}?t=tok", window_closed="frozen by freeze=cron(* * ? * * *)")
    _, plain = prompt(_request(), BOB, f"{PAGE}?t=tok")

    # THEN the first says both, each on its own line; the second neither
    assert (
        f"Bake time:  {UPSTREAM.env} watches its alarms until {ends}; an approval is pushed after that"
        in held
    )
    assert (
        "Window:     stg's deploy window is closed (frozen by freeze=cron(* * ? * * *)); an approval" in held
    )
    assert "Bake time:" not in plain and "Window:" not in plain

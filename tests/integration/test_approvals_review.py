"""What approvers review and what follows their answer, in-process against moto and real git repos:
what the env runs now, the commits and files a promotion brings (with line counts), a comment on either
answer, a rejection told to the commit's author and the other approvers, and a commit asked again.

stg's world is test_approvals.py's (`stg` fixture): dev's repository with Alice's commits, stg's main
behind it, an inbox per approver (Alice, Bob, Carol) behind the template's filter policy. Here a rule
with the template's own `OwnRequests` pattern also collects what the page and the CLI put on stg's bus
for the approvals function, and the function is fed exactly those events.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from test_approvals import (  # the same stg world; fixtures are imported by name for pytest
    ALICE,
    BOB,
    CAROL,
    ENV,
    PAGE_URL,
    REGION,
    Stg,
    _main_or_none,
    _open_for,
    _page,
    counted,
    feature,
    pending,
    stg,
)

from path2prod.adapters import git_history
from path2prod.approvals.event_shapes import PROMOTION_REJECTED
from path2prod.approvals.service import VIA_CLI
from path2prod.domain.approvals import MAX_COMMENT_LENGTH, ApprovalRequest, ApprovalState, Verdict
from path2prod.domain.errors import ApprovalError, InvalidEvent
from path2prod.sandbox.template import rule_pattern
from tests.support.git import git
from tests.support.inbox import EventQueue, new_queue
from tests.support.samples import load_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
FIXTURES = (stg, feature, pending, counted)  # test_approvals.py's, which pytest finds here by these names


@pytest.fixture
def own_bus(stg: Stg) -> EventQueue:
    """What stg's bus routes to the approvals function by the template's OwnRequests rule."""
    sqs = boto3.client("sqs", region_name=REGION)
    url, arn = new_queue(sqs)
    pattern = rule_pattern(
        "ApprovalsFunction", "OwnRequests", {"Environment": ENV, "AWS::AccountId": DEFAULT_ACCOUNT_ID}
    )
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="own-requests", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="own-requests", Targets=[{"Id": "approvals", "Arn": arn}])
    return EventQueue(sqs, url)


def _write(stg: Stg, files: dict[str, bytes | None]) -> None:
    """Change files in dev's clone (None deletes one) and stage them for the next commit."""
    for name, content in files.items():
        path = stg.dev.work / name
        if content is None:
            git("rm", "--quiet", name, cwd=stg.dev.work)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        git("add", name, cwd=stg.dev.work)


def _rejected(stg: Stg, request: ApprovalRequest, own_bus: EventQueue, reason: str | None) -> dict[str, Any]:
    """Bob rejects on his page; returns the one event the page put on the bus for the approvals function."""
    stg.read_mail()
    rejected = stg.page().answer_link(stg.token(BOB, request.id), Verdict.REJECT, reason=reason)
    assert rejected.state is ApprovalState.REJECTED
    (event,) = own_bus.take()
    return event


# -- what an approver reviews ---------------------------------------------------------------------------


def test_the_request_shows_what_stg_runs_the_commits_and_the_files_with_their_lines(stg: Stg) -> None:
    # GIVEN stg runs base ("base: what runs everywhere"); on dev, B adds docs and a binary logo, C
    # rewrites a docs line and deletes nothing else; each also appends a line to app.txt
    _write(stg, {"docs/guide.md": b"one\ntwo\nthree\n", "logo.png": b"\x89PNG\x00\x01\x02"})
    b = stg.dev.commit("B: docs and a logo", env={"GIT_AUTHOR_EMAIL": CAROL})
    _write(stg, {"docs/guide.md": b"one\n2\nthree\n"})
    c = stg.dev.commit("C: fix the guide's second line")
    stg.dev.push_main(c)

    # WHEN dev's success of C opens stg's request
    request = _open_for(stg, c)

    # THEN it knows what stg runs now, the two commits, and every file with its lines
    assert (request.target_head, request.target_subject) == (stg.base, "base: what runs everywhere")
    assert [(x.sha, x.subject) for x in request.commits] == [
        (c, "C: fix the guide's second line"),
        (b, "B: docs and a logo"),
    ]
    by_path = {f.path: (f.status, f.added, f.removed) for f in request.files}
    assert by_path == {
        "app.txt": ("M", 2, 0),
        "docs/guide.md": ("A", 3, 0),
        "logo.png": ("A", None, None),  # binary: no lines, as git --stat shows it
    }
    assert (request.file_count, request.lines_added, request.lines_removed) == (3, 5, 0)
    assert request.files_complete

    # THEN bob's mail says so, the link on a line of its own and the request id on "Request: <id>"
    mail = stg.inboxes[BOB].received[0].body
    assert f"Runs now:   {stg.base[:12]} in {ENV}: base: what runs everywhere" in mail
    assert f"  {b[:12]}  {CAROL}  B: docs and a logo" in mail
    assert "Files:      3 file(s) changed, +5 -0" in mail
    file_lines = [line.split() for line in mail.splitlines()]
    assert ["A", "+3", "-0", "docs/guide.md"] in file_lines and [
        "A",
        "(no",
        "lines)",
        "logo.png",
    ] in file_lines
    lines = mail.splitlines()
    assert [line for line in lines if line.startswith("http")] == [
        next(line for line in lines if line.startswith(PAGE_URL))
    ]
    assert f"Request: {request.id}" in lines

    # THEN so does his page
    page = _page(stg, BOB, request)
    assert "base: what runs everywhere" in page and "C: fix the guide&#x27;s second line" in page
    assert "<code>docs/guide.md</code>" in page and "3 file(s) changed" in page


def test_hostile_paths_and_subjects_cannot_forge_a_line_of_the_mail_or_markup_on_the_page(stg: Stg) -> None:
    # GIVEN a commit whose file name holds a line break and a link-like text, and markup (git allows both)
    _write(stg, {"evil\nhttps:attacker.example?t=x": b"x\n", "<img src=x onerror=alert(1)>.txt": b"y\n"})
    evil = stg.dev.commit("evil <script>alert(1)</script>")
    stg.dev.push_main(evil)

    # WHEN the request opens
    request = _open_for(stg, evil)

    # THEN the only line of bob's mail starting with http is his link; the path is on one line
    mail = stg.inboxes[BOB].received[0].body
    assert [line for line in mail.splitlines() if line.startswith("http")] == [
        line for line in mail.splitlines() if line.startswith(PAGE_URL)
    ]
    assert "evil https:attacker.example?t=x" in mail
    # THEN the page shows the markup as text
    page = _page(stg, BOB, request)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.txt" in page
    assert "<script>alert(1)" not in page


def test_files_are_not_compared_against_a_head_the_upstream_repository_lacks(stg: Stg) -> None:
    # GIVEN stg's main names a commit dev's repository never had
    stray = stg.stg.commit("hotfix made in stg only")
    stg.stg.push_main(stray)
    c = stg.dev.commit("C: next feature")
    stg.dev.push_main(c)

    # WHEN the request opens
    request = _open_for(stg, c)

    # THEN what stg runs is named without its subject, and the files say they were not compared
    assert (request.target_head, request.target_subject, request.file_count) == (stray, None, None)
    assert "Files:      not compared" in stg.inboxes[BOB].received[0].body


def test_past_its_bounds_the_diffstat_counts_every_file_and_says_it_is_not_complete(
    stg: Stg, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN bounds of 3 files with lines counted and 64-byte blobs, and a commit changing 5 files, one big
    monkeypatch.setattr(git_history, "MAX_DIFF_FILES", 3)
    monkeypatch.setattr(git_history, "MAX_DIFF_BLOB_BYTES", 64)
    _write(stg, {"a-big.txt": b"line\n" * 100, **{f"f{n}.txt": b"x\n" for n in range(4)}})
    c = stg.dev.commit("C: five files")
    stg.dev.push_main(c)

    # WHEN its request opens
    request = _open_for(stg, c)

    # THEN all 6 files (app.txt too) are counted, 3 listed, the big one without lines, and it says so
    assert (request.file_count, len(request.files), request.files_complete) == (6, 3, False)
    assert [(f.path, f.added) for f in request.files] == [("a-big.txt", None), ("app.txt", 1), ("f0.txt", 1)]
    assert (request.lines_added, request.lines_removed) == (2, 0)
    mail = stg.inboxes[BOB].received[0].body
    assert "Files:      6 file(s) changed, +2 -0 (some files too large or too many" in mail
    assert "  and 3 more" in mail


# -- comments -------------------------------------------------------------------------------------------


def test_an_approval_carries_its_comment_into_the_request_and_the_ledger(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # WHEN bob approves with a comment
    approved = stg.page().answer_link(
        stg.token(BOB, pending.id), Verdict.APPROVE, reason="looks good, ship it"
    )

    # THEN the decision and its chained ledger entry keep it
    assert approved.state is ApprovalState.APPROVED
    assert approved.decisions[-1].reason == "looks good, ship it"
    (entry,) = [e for e in stg.requests.entries(pending.id) if e.state == "APPROVED"]
    assert (entry.trigger, entry.reason, entry.via) == (BOB, "looks good, ship it", "approval page")
    stg.assert_chain_intact()


def test_a_comment_longer_than_the_limit_is_refused_and_nothing_is_written(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # WHEN bob answers with a comment one character too long
    head = stg.ledger.chain_head()
    with pytest.raises(ApprovalError, match=f"longer than {MAX_COMMENT_LENGTH}"):
        stg.page().answer(pending.id, BOB, Verdict.REJECT, via=VIA_CLI, reason="x" * (MAX_COMMENT_LENGTH + 1))

    # THEN nothing changed
    assert stg.ledger.chain_head() == head
    assert stg.request(pending.id).state is ApprovalState.PENDING


# -- a rejection is told --------------------------------------------------------------------------------


def test_a_rejection_mails_the_author_and_the_other_approvers_once(
    stg: Stg, pending: ApprovalRequest, own_bus: EventQueue
) -> None:
    # GIVEN bob rejects alice's commit on his page, with a comment
    event = _rejected(stg, pending, own_bus, "the migration is missing")
    assert event["detail-type"] == PROMOTION_REJECTED
    assert event["detail"] == {"env": ENV, "request_id": pending.id, "commit": pending.commit}

    # WHEN the approvals function gets that event, twice (EventBridge delivers at least once)
    stg.open(event)
    stg.open(event)

    # THEN alice (the author, also an approver) and carol get one mail each, bob none
    mails = stg.read_mail()
    assert {who: len(got) for who, got in mails.items()} == {ALICE: 1, BOB: 0, CAROL: 1}
    for who in (ALICE, CAROL):
        (mail,) = mails[who]
        assert mail.approver == who  # the attribute the recipient's filter policy matches
        assert mail.subject.startswith(f"path2prod: {pending.commit[:12]} rejected for {ENV} by {BOB}")
        assert "Comment:    the migration is missing" in mail.body
        assert f"path2prod approvals request {ENV} {pending.commit}" in mail.body
        assert f"Request: {pending.id}" in mail.body.splitlines()
        assert not [line for line in mail.body.splitlines() if line.startswith("http")]  # nothing to click
    assert "You wrote this commit." in mails[ALICE][0].body
    assert stg.request(pending.id).rejection_notified_at is not None


def test_the_sample_rejection_event_of_a_request_that_is_not_rejected_is_refused(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # GIVEN the sample "Promotion Rejected", naming the pending request (a forgery: nobody rejected it)
    event = load_event("promotion-rejected")
    event["detail"].update(request_id=pending.id, commit=pending.commit)
    stg.read_mail()

    # WHEN / THEN the function refuses it, naming the field, and mails nobody
    with pytest.raises(InvalidEvent, match=r"detail\.request_id.*not REJECTED"):
        stg.open(event)
    assert stg.read_mail() == {ALICE: [], BOB: [], CAROL: []}


# -- asking again ---------------------------------------------------------------------------------------


def _ask_again(request: ApprovalRequest, by: str = CAROL) -> dict[str, Any]:
    event = load_event("approval-requested-again")
    event["id"] = str(uuid.uuid4())
    event["detail"].update(commit=request.commit, previous_request_id=request.id, requested_by=by)
    return event


def test_a_rejected_commit_asked_again_opens_a_new_request_and_asks_every_approver(
    stg: Stg, pending: ApprovalRequest, own_bus: EventQueue
) -> None:
    # GIVEN bob rejected alice's commit
    stg.open(_rejected(stg, pending, own_bus, "not yet"))
    stg.read_mail()

    # WHEN carol asks again, and the event arrives twice
    opened = stg.open(_ask_again(pending))
    assert stg.open(_ask_again(pending))["request_id"] == opened["request_id"]

    # THEN one new PENDING request for the same commit says who asked after which request
    again = stg.request(opened["request_id"])
    assert (again.id != pending.id, again.commit, again.state) == (
        True,
        pending.commit,
        ApprovalState.PENDING,
    )
    assert (again.asked_again_after, again.asked_by) == (pending.id, CAROL)
    assert stg.entries(again.id) == [("REQUESTED", CAROL)]
    assert stg.request(pending.id).state is ApprovalState.REJECTED
    # THEN every approver got one new link, which bob can approve with
    mails = stg.read_mail()
    assert {who: len(got) for who, got in mails.items()} == {ALICE: 1, BOB: 1, CAROL: 1}
    assert f"Asked again: by {CAROL} after {pending.id}" in mails[BOB][0].body
    approved = stg.page().answer_link(stg.token(BOB, again.id), Verdict.APPROVE)
    assert approved.state is ApprovalState.APPROVED
    assert stg.promote(stg.approved(approved)) == {"request_id": again.id, "promotion": "PUSHED"}
    assert _main_or_none(stg.stg) == pending.commit
    stg.assert_chain_intact()


def test_the_approvals_function_counts_the_requests_it_opens_not_the_events_it_gets(
    stg: Stg, pending: ApprovalRequest, own_bus: EventQueue, counted: dict[str, list[str]]
) -> None:
    # GIVEN bob rejected the request (its opening was counted when the `pending` fixture opened it)
    rejection = _rejected(stg, pending, own_bus, "not yet")
    counted["approvals"].clear()

    # WHEN the rejection is told, twice, and carol asks again, twice
    stg.open(rejection)
    stg.open(rejection)
    again = stg.open(_ask_again(pending))
    assert stg.open(_ask_again(pending)) == again

    # THEN one request opened, counted once: telling a rejection opens none, a duplicate opens none
    assert counted["approvals"] == ["ApprovalRequests"]


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param(lambda r: r, id="the request is still pending"),
        pytest.param(lambda r: {**r, "previous_request_id": "apr-" + "0" * 20}, id="no such request"),
        pytest.param(lambda r: {**r, "commit": "f" * 40}, id="another commit"),
    ],
)
def test_asking_again_what_the_ledger_does_not_show_rejected_or_expired_is_refused(
    stg: Stg, pending: ApprovalRequest, claim: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    # GIVEN an "ask again" claim the ledger does not back
    event = _ask_again(pending)
    event["detail"] = claim(event["detail"])
    head = stg.ledger.chain_head()
    stg.read_mail()

    # WHEN / THEN it is refused, before anything is written or mailed
    with pytest.raises(InvalidEvent, match=r"detail\.(previous_request_id|commit)"):
        stg.open(event)
    assert stg.ledger.chain_head() == head
    assert stg.read_mail() == {ALICE: [], BOB: [], CAROL: []}


def test_an_expired_request_can_be_asked_again_and_its_expiry_is_recorded(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # GIVEN the request expired unanswered (still stored PENDING: expiry is judged on read)
    stg.clock.advance(pending_lifetime(pending))

    # WHEN bob asks again
    opened = stg.open(_ask_again(pending, by=BOB))

    # THEN the old one is recorded EXPIRED, the new one is PENDING and asked by bob
    assert stg.request(pending.id).state is ApprovalState.EXPIRED
    assert [state for state, _ in stg.entries(pending.id)] == ["REQUESTED", "EXPIRED"]
    again = stg.request(opened["request_id"])
    assert (again.state, again.asked_by) == (ApprovalState.PENDING, BOB)


def test_asking_again_is_refused_while_a_request_for_the_commit_is_open_however_many_opened_since(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # GIVEN bob rejected the request; dev ran the same commit again, which opened a PENDING request
    stg.page().answer_link(stg.token(BOB, pending.id), Verdict.REJECT, reason="not yet")
    stg.clock.advance(timedelta(minutes=30))
    rerun = stg.open(stg.succeeded_in_dev(pending.commit, "execution-rerun", "2024-05-14T09:55:00Z"))
    assert rerun["state"] == "PENDING"
    # GIVEN 20 late events of older successes since, each opened already superseded
    for n in range(20):
        stg.clock.advance(timedelta(seconds=1))
        stale = stg.open(stg.succeeded_in_dev(stg.base, f"stale-{n}", f"2024-05-14T07:{n:02}:00Z"))
        assert stale["state"] == "SUPERSEDED"
    head = stg.ledger.chain_head()

    # WHEN carol asks again for the rejected request's commit
    # THEN it is refused, naming the request still open, however many requests opened since
    with pytest.raises(InvalidEvent, match=rerun["request_id"]):
        stg.open(_ask_again(pending))
    assert stg.ledger.chain_head() == head


def pending_lifetime(request: ApprovalRequest) -> Any:
    from path2prod.domain.time import parse_time

    return parse_time(request.expires_at) - parse_time(request.requested_at)

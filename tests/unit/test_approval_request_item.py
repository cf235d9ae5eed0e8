"""A request's DynamoDB item stays far below DynamoDB's 400 KB limit whatever git and the approvers put in
it, and reads back as it was written."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from path2prod.adapters.approval_requests import request_from_item, request_item
from path2prod.adapters.ledger_codec import serialize_item
from path2prod.domain.approvals import (
    MAX_COMMENT_LENGTH,
    ApprovalRequest,
    Decision,
    Upstream,
    Verdict,
    open_request,
)
from path2prod.domain.review_facts import (
    MAX_AUTHORS,
    MAX_EMAIL_LENGTH,
    ChangedFile,
    DiffStat,
    PromotedCommit,
    PromotedRange,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DYNAMODB_ITEM_LIMIT = 400 * 1024


def _worst_case_request() -> ApprovalRequest:
    emails = [f"{n:03d}{'e' * (MAX_EMAIL_LENGTH - 15)}@example.com" for n in range(MAX_AUTHORS * 3)]
    commits = tuple(
        PromotedCommit(f"{n:040x}", "N" * 5000, emails[2 * n], emails[2 * n + 1], "S" * 5000)
        for n in range(150)
    )
    files = tuple(ChangedFile("p/" * 3000 + str(n), "M", 10**6, 10**6) for n in range(5000))
    promoted = PromotedRange(
        target_head="a" * 40,
        commits=commits,
        target_subject="T" * 5000,
        diffstat=DiffStat(files=files, file_count=5000, added=10**9, removed=10**9, complete=False),
    )
    approvers = tuple(f"approver{n}@example.com" for n in range(5))
    request = open_request(
        env="prd",
        commit="c" * 40,
        upstream=Upstream(
            "stg", "path2prod-app", "e2f2be32-8f1a-4c59-a6b0-6f1d2b3c4d5e", "2026-11-02T08:55:00Z"
        ),
        author_name="A" * 5000,
        author_email=emails[0],
        message="M" * 5000,
        approvers=approvers,
        quorum=5,
        now=NOW,
        promoted=promoted,
        asked_by="arn:" + "x" * 5000,
    )
    # Five answers with the longest comments (set directly: nobody may approve a range this long).
    answers = tuple(
        Decision(approver, Verdict.APPROVE, "2026-11-02T09:00:00Z", "approval page", "r" * MAX_COMMENT_LENGTH)
        for approver in approvers
    )
    return replace(request, decisions=answers)


def test_the_largest_request_git_and_approvers_can_make_stays_far_below_the_item_limit() -> None:
    # GIVEN a request whose every list and text is past its cap
    request = _worst_case_request()

    # WHEN it is serialized as DynamoDB stores it
    item = serialize_item(request_item(request))

    # THEN it is under half the 400 KB limit (about 150 KB measured as JSON of the typed item, which
    # overstates DynamoDB's own count: type tags and quotes are not stored)
    size = len(json.dumps(item).encode())
    assert size < DYNAMODB_ITEM_LIMIT / 2, size


def test_a_request_reads_back_as_it_was_written() -> None:
    # GIVEN the largest request, with a binary file (no line counts) among its files
    request = _worst_case_request()
    request = replace(request, files=(ChangedFile("logo.png", "A", None, None), *request.files[1:]))

    # WHEN it is written and read back
    back = request_from_item(serialize_item(request_item(request)))

    # THEN nothing changed
    assert back == request

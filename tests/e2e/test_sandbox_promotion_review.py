"""What stg's approvers review and what follows their answer, in the sandbox as people meet it: a mail,
a link, a page over HTTP, the CLI.

The acceptance line: "The approval page for a candidate two commits ahead of what stg runs lists both
commits." A is pushed to dev and promoted to stg; B and C follow on dev; the page of C's stg request lists
B and C, and names A as what stg runs now. Then bob rejects C with a comment (alice, its author, is
mailed), and carol's `approvals request stg C` asks again.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.git import git

from .conftest import PASSING_BUILDSPEC, clone_of, commit_and_push, eventually, history, http, run_cli

pytestmark = pytest.mark.e2e

ALICE, BOB = "alice@example.com", "bob@example.com"


def _requests(home: Path) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(
        run_cli("approvals", "list", "--env", "stg", "--home", str(home), "--json").stdout
    )
    return listed


def _pending_for(home: Path, sha: str) -> dict[str, Any] | None:
    return next((r for r in _requests(home) if r["commit"] == sha and r["state"] == "PENDING"), None)


def _mails(home: Path, to: str) -> list[dict[str, Any]]:
    mails: list[dict[str, Any]] = json.loads(
        run_cli("local", "mail", "--home", str(home), "--to", to, "--json").stdout
    )
    return mails


def _mail_about(home: Path, to: str, request_id: str, subject_has: str = "") -> dict[str, Any] | None:
    """`to`'s mail whose body names the request on its "Request: <id>" line."""
    return next(
        (
            mail
            for mail in _mails(home, to)
            if f"Request: {request_id}" in mail["body"].splitlines() and subject_has in mail["subject"]
        ),
        None,
    )


def _link(mail: dict[str, Any]) -> str:
    return next(line for line in mail["body"].splitlines() if line.startswith("http"))


def _stg_main(home: Path) -> str | None:
    listed = git("--git-dir", str(home / "repos" / "stg.git"), "for-each-ref", "--format=%(objectname)")
    return next((line for line in listed.splitlines() if line), None)


@pytest.fixture(scope="module")
def two_ahead(sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A runs in stg (approved by bob); B and C are on dev, and C's stg request is PENDING."""
    clone = clone_of(sandbox / "repos" / "dev.git", tmp_path_factory.mktemp("review") / "app")
    a = commit_and_push(clone, PASSING_BUILDSPEC, "A: what stg will run")
    request_a = eventually(lambda: _pending_for(sandbox, a), 90, f"a PENDING stg request for A {a[:12]}")
    run_cli("approve", request_a["id"], "--as", BOB, "--home", str(sandbox))
    eventually(lambda: _stg_main(sandbox) == a, 90, f"stg main at A {a[:12]}")
    b = commit_and_push(clone, PASSING_BUILDSPEC, "B: the first step after A")
    # B's request first: requests are ordered by their upstream success, to the second, so B and C
    # succeeding in dev in one second (a busy machine) left which one supersedes the other to chance
    eventually(lambda: _pending_for(sandbox, b), 90, f"a PENDING stg request for B {b[:12]}")
    c = commit_and_push(clone, PASSING_BUILDSPEC, "C: the second step after A")
    request_c = eventually(lambda: _pending_for(sandbox, c), 90, f"a PENDING stg request for C {c[:12]}")
    mail = eventually(lambda: _mail_about(sandbox, BOB, request_c["id"]), 30, "bob's mail about C")
    return {"a": a, "b": b, "c": c, "request": request_c, "bob_mail": mail}


def test_the_approval_page_for_a_candidate_two_commits_ahead_of_what_stg_runs_lists_both_commits(
    sandbox: Path, two_ahead: dict[str, Any]
) -> None:
    # GIVEN stg runs A, and C's request is open with B between them
    a, b, c = two_ahead["a"], two_ahead["b"], two_ahead["c"]
    assert _stg_main(sandbox) == a

    # WHEN bob opens the link of his mail over HTTP
    status, page = http("GET", _link(two_ahead["bob_mail"]))

    # THEN the page lists both commits and names A as what stg runs now
    assert status == 200
    assert "B: the first step after A" in page and b[:12] in page
    assert "C: the second step after A" in page and c[:12] in page
    runs_now = page.split("Runs now", 1)[1].split("</tr>", 1)[0]
    assert a[:12] in runs_now and "A: what stg will run" in runs_now
    assert "2 commit(s)" in page and "file(s) changed" in page
    # AND the mail says the same, with the request on its own "Request: <id>" line
    body = two_ahead["bob_mail"]["body"]
    assert f"Runs now:   {a[:12]} in stg: A: what stg will run" in body
    assert "Promotes:   2 commit(s)" in body and "B: the first step after A" in body
    assert f"Request: {two_ahead['request']['id']}" in body.splitlines()


def test_a_rejection_with_a_comment_is_listed_and_mailed_to_the_author(
    sandbox: Path, two_ahead: dict[str, Any]
) -> None:
    # WHEN bob rejects C on his page, with a comment
    link = _link(two_ahead["bob_mail"])
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["t"][0]
    status, page = http("POST", link, {"t": token, "decision": "reject", "reason": "B needs a migration"})
    assert status == 200 and "REJECTED" in page

    # THEN alice, who wrote C, is mailed who rejected it and why; bob is not
    request_id = two_ahead["request"]["id"]
    told = eventually(
        lambda: _mail_about(sandbox, ALICE, request_id, subject_has="rejected"),
        60,
        "alice told of the rejection",
    )
    assert "Comment:    B needs a migration" in told["body"] and BOB in told["subject"]
    assert _mail_about(sandbox, BOB, request_id, subject_has="rejected") is None
    # THEN the list has a header line and shows the comment, and the ledger keeps it
    listed = run_cli("approvals", "list", "--env", "stg", "--home", str(sandbox)).stdout.splitlines()
    assert listed[0].split()[:4] == ["REQUEST", "ENV", "STATE", "COMMIT"]
    assert any(BOB in line and "REJECTED" in line and "B needs a migration" in line for line in listed)
    assert any(
        e["kind"] == "approval" and e["state"] == "REJECTED" and e["reason"] == "B needs a migration"
        for e in history(sandbox, "stg")
    )


def test_a_rejected_commit_is_asked_again_from_the_cli(sandbox: Path, two_ahead: dict[str, Any]) -> None:
    # GIVEN C's request was rejected (the test before)
    c, rejected = two_ahead["c"], two_ahead["request"]["id"]
    eventually(
        lambda: any(r["id"] == rejected and r["state"] == "REJECTED" for r in _requests(sandbox)),
        30,
        "rejected",
    )

    # WHEN carol asks again, naming C by its short sha
    asked = json.loads(
        run_cli(
            "approvals",
            "request",
            "stg",
            c[:10],
            "--as",
            "carol@example.com",
            "--home",
            str(sandbox),
            "--json",
        ).stdout
    )

    # THEN a new request opens for C, says who asked, and bob gets a new link
    assert (asked["commit"], asked["previous_request_id"], asked["previous_state"]) == (
        c,
        rejected,
        "REJECTED",
    )
    again = eventually(
        lambda: next((r for r in _requests(sandbox) if r["id"] == asked["request_id"]), None),
        60,
        "the request asked again",
    )
    assert (again["state"], again["asked_by"], again["asked_again_after"]) == (
        "PENDING",
        "carol@example.com",
        rejected,
    )
    mail = eventually(lambda: _mail_about(sandbox, BOB, again["id"]), 30, "bob's new link")
    assert "Asked again: by carol@example.com" in mail["body"] and _link(mail) != _link(two_ahead["bob_mail"])

    # WHEN it is asked again while that request is pending THEN one line says why, and nothing is sent
    refused = run_cli(
        "approvals", "request", "stg", c, "--as", "carol@example.com", "--home", str(sandbox), check=False
    )
    assert refused.returncode != 0 and "PENDING" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr

    # WHEN a commit stg's ledger never requested is asked for THEN one line (JSON under --json) says so
    never = run_cli(
        "approvals",
        "request",
        "stg",
        "0" * 40,
        "--as",
        "carol@example.com",
        "--home",
        str(sandbox),
        "--json",
        check=False,
    )
    assert never.returncode != 0 and "no request for 000000000000" in json.loads(never.stdout)["error"]

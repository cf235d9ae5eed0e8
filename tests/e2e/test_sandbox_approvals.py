"""Promotion approvals in the sandbox, as approvers meet them: a mail, a link, a page, a button.

The issue's "Done when", step by step: a commit by alice passing dev opens a stg request and mails alice
and bob their own links; fetching a link changes nothing; alice cannot approve her own commit, a
tampered link is refused, bob's approval pushes the commit to stg, and a second post is 409.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.git import git

from .conftest import PASSING_BUILDSPEC, clone_of, eventually, history, http, main_of, run_cli

pytestmark = pytest.mark.e2e

ALICE, BOB = "alice@example.com", "bob@example.com"


def _requests(home: Path, env: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(
        run_cli("approvals", "list", "--env", env, "--home", str(home), "--json").stdout
    )
    return listed


def _request_for(home: Path, env: str, sha: str) -> dict[str, Any] | None:
    return next((r for r in _requests(home, env) if r["commit"] == sha), None)


def _mails_about(home: Path, request_id: str) -> list[dict[str, Any]]:
    mails: list[dict[str, Any]] = json.loads(run_cli("local", "mail", "--home", str(home), "--json").stdout)
    return [mail for mail in mails if request_id in mail["body"]]


def _link(mail: dict[str, Any]) -> str:
    return next(line for line in mail["body"].splitlines() if line.startswith("http://127.0.0.1"))


def _token(link: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["t"][0]


def _state_of_everything(home: Path) -> tuple[Any, ...]:
    """What a GET must not change: the requests, the stg ledger and stg's main."""
    return (_requests(home, "stg"), history(home, "stg"), _main_or_none(home, "stg"))


@pytest.fixture(scope="module")
def promoted(sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """alice's commit, passed in dev, with its stg request and the two mails it sent."""
    clone = clone_of(sandbox / "repos" / "dev.git", tmp_path_factory.mktemp("approvals") / "app")
    (clone / "buildspec.yml").write_text(PASSING_BUILDSPEC)
    (clone / "app.txt").write_text("promote me <b>please</b>\n")
    git("add", "--all", cwd=clone)
    git("commit", "--quiet", "-m", "Greet in <b>bold</b> & more", cwd=clone)
    sha = git("rev-parse", "HEAD", cwd=clone)
    git("push", "--quiet", "--force", "origin", f"{sha}:refs/heads/main", cwd=clone)
    request = eventually(
        lambda: (r := _request_for(sandbox, "stg", sha)) and r["state"] == "PENDING" and r,
        60,
        f"a PENDING stg request for {sha[:12]}",
    )
    mails = eventually(
        lambda: len(found := _mails_about(sandbox, request["id"])) >= 2 and found,
        30,
        "mails to both approvers",
    )
    return {"sha": sha, "request": request, "mails": mails}


def test_a_commit_that_passes_dev_asks_each_approver_by_mail(sandbox: Path, promoted: dict[str, Any]) -> None:
    # GIVEN alice's commit passed dev (the fixture waited at most 60 s for its request)
    request, sha = promoted["request"], promoted["sha"]
    # THEN the request names the commit and its author, and expires in 72 h
    assert request["env"] == "stg" and request["commit"] == sha and request["state"] == "PENDING"
    assert request["author_email"] == ALICE
    assert request["requested_at"] < request["expires_at"]
    # AND exactly one mail went to each approver, each with their own link
    by_recipient = {mail["to"]: mail for mail in promoted["mails"]}
    assert sorted(mail["to"] for mail in promoted["mails"]) == [ALICE, BOB]
    alice_link, bob_link = _link(by_recipient[ALICE]), _link(by_recipient[BOB])
    assert alice_link != bob_link
    assert _token(bob_link) not in by_recipient[ALICE]["body"]
    for mail in promoted["mails"]:
        assert sha in mail["body"] and "Greet in <b>bold</b> & more" in mail["body"]
        assert request["expires_at"] in mail["body"] and mail["subject"] and mail["time"]


def test_fetching_a_link_changes_nothing(sandbox: Path, promoted: dict[str, Any]) -> None:
    # GIVEN bob's link, as a mail scanner would find it
    link = _link(next(m for m in promoted["mails"] if m["to"] == BOB))
    before = _state_of_everything(sandbox)
    # WHEN it is fetched with GET and HEAD, again and again
    for _ in range(3):
        status, page = http("GET", link)
        assert status == 200
        assert promoted["sha"] in page and "&lt;b&gt;bold&lt;/b&gt;" in page  # shown, and escaped
        assert http("HEAD", link) == (200, "")
    # THEN nothing changed: the request, the ledger, stg's main
    assert _state_of_everything(sandbox) == before


def test_the_author_and_a_tampered_link_are_refused_then_bob_promotes(
    sandbox: Path, promoted: dict[str, Any]
) -> None:
    by_recipient = {mail["to"]: _link(mail) for mail in promoted["mails"]}
    sha, stg_before = promoted["sha"], _main_or_none(sandbox, "stg")
    bob_link = by_recipient[BOB]

    # WHEN alice posts Approve on her own commit THEN 403, saying why
    status, page = http(
        "POST", by_recipient[ALICE], {"t": _token(by_recipient[ALICE]), "decision": "approve"}
    )
    assert status == 403 and "author" in page.lower()

    # WHEN a token is tampered with THEN 403: bob's signature under alice's name, a changed signature
    bob_parts, alice_parts = _token(bob_link).split("."), _token(by_recipient[ALICE]).split(".")
    renamed = ".".join([bob_parts[0], alice_parts[1], bob_parts[2], bob_parts[3]])
    flipped = _token(bob_link)[:-2] + ("AA" if not _token(bob_link).endswith("AA") else "BB")
    for forged in (renamed, flipped):
        status, _ = http("POST", bob_link, {"t": forged, "decision": "approve"})
        assert status == 403
    assert _main_or_none(sandbox, "stg") == stg_before
    assert _request_for(sandbox, "stg", sha)["state"] == "PENDING"

    # WHEN bob posts Approve
    status, page = http("POST", bob_link, {"t": _token(bob_link), "decision": "approve"})
    # THEN it is recorded, and within 60 s stg's main is the commit and stg's ledger shows it SUCCEEDED
    assert status == 200 and "APPROVED" in page
    eventually(lambda: _main_or_none(sandbox, "stg") == sha, 60, f"stg main at {sha[:12]}")
    eventually(
        lambda: any(
            e["commit"] == sha and e["kind"] == "deployment" and e["state"] == "SUCCEEDED"
            for e in history(sandbox, "stg")
        ),
        60,
        f"{sha[:12]} SUCCEEDED in stg's ledger",
    )
    entries = history(sandbox, "stg")
    assert any(e["kind"] == "approval" and e["state"] == "APPROVED" and e["trigger"] == BOB for e in entries)
    assert any(e["kind"] == "promotion" and e["state"] == "SUCCEEDED" and e["commit"] == sha for e in entries)

    # WHEN bob posts again THEN 409, and nothing more is pushed or recorded
    promotions = [e for e in entries if e["kind"] == "promotion"]
    status, _ = http("POST", bob_link, {"t": _token(bob_link), "decision": "approve"})
    assert status == 409
    run_cli("local", "wait", "--home", str(sandbox), "--timeout", "60")
    assert main_of(sandbox, "stg") == sha
    assert [e for e in history(sandbox, "stg") if e["kind"] == "promotion"] == promotions


def test_the_cli_answers_prd_requests(sandbox: Path, promoted: dict[str, Any]) -> None:
    # GIVEN the commit SUCCEEDED in stg, so prd's approvers are asked in turn
    sha = promoted["sha"]
    request = eventually(lambda: _request_for(sandbox, "prd", sha), 60, f"a prd request for {sha[:12]}")
    prd_before = _main_or_none(sandbox, "prd")
    # WHEN alice approves her own commit from the CLI THEN one line says why, and nothing changes
    refused = run_cli("approve", request["id"], "--as", ALICE, "--home", str(sandbox), check=False)
    assert refused.returncode != 0 and "author" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    # WHEN bob rejects it
    rejected = json.loads(
        run_cli(
            "reject",
            request["id"],
            "--as",
            BOB,
            "--reason",
            "not this week",
            "--home",
            str(sandbox),
            "--json",
        ).stdout
    )
    # THEN the request is REJECTED, the ledger says who and why, and prd's main did not move
    assert rejected["state"] == "REJECTED"
    assert rejected["decisions"][0] == {
        "approver": BOB,
        "verdict": "REJECTED",
        "at": rejected["decisions"][0]["at"],
        "via": "cli",
        "reason": "not this week",
    }
    assert any(
        e["kind"] == "approval" and e["state"] == "REJECTED" and e["trigger"] == BOB and e["via"] == "cli"
        for e in history(sandbox, "prd")
    )
    run_cli("local", "wait", "--home", str(sandbox), "--timeout", "60")
    assert _main_or_none(sandbox, "prd") == prd_before


def _main_or_none(home: Path, env: str) -> str | None:
    try:
        return main_of(home, env)
    except subprocess.CalledProcessError:  # no main yet
        return None

"""Promotion approvals: tokens, quorum, the author's own change, expiry, superseding, and HTTP statuses.

Every instant is a fixed, aware UTC datetime passed in as `now`; the real clock is never read.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from path2prod.domain.approval_tokens import TokenClaims, make_token, read_token
from path2prod.domain.approvals import (
    DEFAULT_EXPIRY,
    ApprovalRequest,
    ApprovalState,
    Decision,
    Upstream,
    Verdict,
    decide,
    open_request,
    request_id,
    supersede,
    supersedes,
)
from path2prod.domain.errors import (
    AlreadyDecided,
    ApprovalError,
    BadToken,
    NotAnApprover,
    Path2ProdError,
    RequestGone,
    SelfApproval,
    UnknownRequest,
)
from path2prod.domain.review_facts import (
    MAX_AUTHORS,
    MAX_COMMITS_SHOWN,
    MAX_SUBJECT_LENGTH,
    PromotedCommit,
    PromotedRange,
    promoted_authors,
)
from path2prod.domain.time import format_time

SECRET = b"the-stack-signing-secret"
OTHER_SECRET = b"another-stack-signing-secret"

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
EXPIRES_AT = "2026-11-06T10:00:00Z"  # NOW + 72 h
AFTER_EXPIRY = datetime(2026, 11, 6, 10, 0, 1, tzinfo=UTC)

COMMIT = "c0ffee" + "0" * 34
OTHER_COMMIT = "decade" + "0" * 34
AUTHOR = "dana@example.com"
ANN = "ann@example.com"
BOB = "bob@example.com"
CAROL = "carol@example.com"
STRANGER = "mallory@example.com"

UPSTREAM = Upstream(
    env="stg",
    pipeline="path2prod-app",
    execution_id="execution-1",
    succeeded_at="2026-11-03T09:55:00Z",
    account="222222222222",
)


def _open(
    *,
    approvers: tuple[str, ...] = (ANN, BOB, CAROL, AUTHOR),
    quorum: int = 1,
    upstream: Upstream = UPSTREAM,
    commit: str = COMMIT,
    env: str = "prd",
    now: datetime = NOW,
    author_email: str = AUTHOR,
) -> ApprovalRequest:
    return open_request(
        env=env,
        commit=commit,
        upstream=upstream,
        author_name="Dana",
        author_email=author_email,
        message="Make checkout faster",
        approvers=approvers,
        quorum=quorum,
        now=now,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _token(*, secret: bytes = SECRET, request: str = "apr-0123456789abcdef0123", approver: str = ANN) -> str:
    return make_token(secret, request, approver, EXPIRES_AT)


def _with_part(token: str, index: int, new: str) -> str:
    parts = token.split(".")
    parts[index] = new
    return ".".join(parts)


def _flip(text: str, index: int) -> str:
    """`text` with one base64url character changed to another, so the decoded bytes differ."""
    replacement = "B" if text[index] == "A" else "A"
    return text[:index] + replacement + text[index + 1 :]


# -- tokens ---------------------------------------------------------------------------------------------


def test_a_token_reads_back_as_the_claims_it_was_made_with() -> None:
    # GIVEN a token for one approver of one request
    token = make_token(SECRET, "apr-0123456789abcdef0123", ANN, EXPIRES_AT)

    # WHEN it is read with the same secret before its expiry
    claims = read_token(SECRET, token, now=NOW)

    # THEN the claims are exactly those it was made with
    assert claims == TokenClaims(request_id="apr-0123456789abcdef0123", approver=ANN, expires_at=EXPIRES_AT)


def test_a_token_is_urlsafe() -> None:
    # GIVEN a token for an approver whose name needs escaping in a URL
    approver = "o'neil+prd.approver@example.com"
    token = make_token(SECRET, "apr-1", approver, EXPIRES_AT)

    # WHEN
    claims = read_token(SECRET, token, now=NOW)

    # THEN it carries nothing a URL would mangle, and reads back the same
    assert all(c.isascii() and (c.isalnum() or c in "-_.") for c in token)
    assert claims.approver == approver


@pytest.mark.parametrize("spelling", ["{} ", "{}\n", " {}", "{}\r\n", "\t{}"])
def test_a_token_is_accepted_in_exactly_one_spelling(spelling: str) -> None:
    # GIVEN a genuine token with a space or line break around it
    token = spelling.format(make_token(SECRET, "apr-1", ANN, EXPIRES_AT))

    # WHEN / THEN it is another token, and not one path2prod made
    with pytest.raises(BadToken):
        read_token(SECRET, token, now=NOW)


@given(
    request=st.from_regex(r"apr-[0-9a-f]{1,20}", fullmatch=True),
    approver=st.text(min_size=1, max_size=60),
    hours=st.integers(min_value=1, max_value=24 * 365),
)
def test_any_approver_and_expiry_round_trip(request: str, approver: str, hours: int) -> None:
    # GIVEN any approver name (unicode, dots, anything) and any future expiry
    expires_at = format_time(NOW + timedelta(hours=hours))
    token = make_token(SECRET, request, approver, expires_at)

    # WHEN / THEN it reads back unchanged
    assert read_token(SECRET, token, now=NOW) == TokenClaims(request, approver, expires_at)


def test_a_token_cannot_be_made_with_an_empty_secret() -> None:
    # WHEN / THEN
    with pytest.raises(ValueError):
        make_token(b"", "apr-1", ANN, EXPIRES_AT)


TAMPERINGS: dict[str, Callable[[str], str]] = {
    "another request id": lambda t: _with_part(t, 0, "apr-ffffffffffffffffffff"),
    "request id with one char changed": lambda t: _with_part(t, 0, t.split(".")[0][:-1] + "4"),
    "another approver": lambda t: _with_part(t, 1, _b64(STRANGER.encode())),
    "approver in another case": lambda t: _with_part(t, 1, _b64(ANN.upper().encode())),
    "a later expiry": lambda t: _with_part(t, 2, str(int(t.split(".")[2]) + 3600)),
    "an earlier expiry": lambda t: _with_part(t, 2, str(int(t.split(".")[2]) - 1)),
    "first signature char changed": lambda t: _with_part(t, 3, _flip(t.split(".")[3], 0)),
    "middle signature char changed": lambda t: _with_part(t, 3, _flip(t.split(".")[3], 20)),
    "another approver's signature": lambda t: _with_part(t, 3, _token(approver=BOB).split(".")[3]),
    "signature cut short by one char": lambda t: t[:-1],
    "signature cut to its first half": lambda t: t[: len(t) - 22],
    "token cut in half": lambda t: t[: len(t) // 2],
    "signature missing": lambda t: t.rsplit(".", 1)[0],
    "empty signature": lambda t: _with_part(t, 3, ""),
    "an extra part": lambda t: t + ".extra",
    "an extra empty part": lambda t: t + ".",
    "approver not base64": lambda t: _with_part(t, 1, "ann@example.com"),
    "approver with padding": lambda t: _with_part(t, 1, t.split(".")[1] + "="),
    "approver of impossible base64 length": lambda t: _with_part(t, 1, "a"),
    "approver not utf-8": lambda t: _with_part(t, 1, _b64(b"\xff\xfe\xfd")),
    "empty approver": lambda t: _with_part(t, 1, ""),
    "signature not base64": lambda t: _with_part(t, 3, "!!!not*base64!!!"),
    "expiry not a number": lambda t: _with_part(t, 2, "tomorrow"),
    "empty expiry": lambda t: _with_part(t, 2, ""),
    "garbage": lambda t: "bm90IGEgdG9rZW4",
    "garbage with dots": lambda t: "a.b.c.d",
    "empty": lambda t: "",
    "blank": lambda t: "   ",
    "only dots": lambda t: "...",
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_every_tampering_is_refused_as_a_bad_token(tamper: Callable[[str], str]) -> None:
    # GIVEN a genuine token, tampered with
    forged = tamper(_token())

    # WHEN / THEN reading it is refused as a bad token (403), never anything else
    with pytest.raises(BadToken):
        read_token(SECRET, forged, now=NOW)


def test_a_token_made_with_another_secret_is_refused() -> None:
    # GIVEN a well-formed token signed with another stack's secret
    token = _token(secret=OTHER_SECRET)

    # WHEN / THEN
    with pytest.raises(BadToken):
        read_token(SECRET, token, now=NOW)


def test_an_expired_genuine_token_is_gone() -> None:
    # GIVEN a genuine token
    token = _token()

    # WHEN / THEN it is gone (410) from its expiry on, and fine the second before
    assert read_token(SECRET, token, now=datetime(2026, 11, 6, 9, 59, 59, tzinfo=UTC)).approver == ANN
    with pytest.raises(RequestGone):
        read_token(SECRET, token, now=datetime(2026, 11, 6, 10, 0, tzinfo=UTC))
    with pytest.raises(RequestGone):
        read_token(SECRET, token, now=AFTER_EXPIRY)


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda t: _with_part(t, 1, _b64(STRANGER.encode())), id="another approver"),
        pytest.param(lambda t: _with_part(t, 3, _flip(t.split(".")[3], 0)), id="signature changed"),
        pytest.param(lambda t: _with_part(t, 2, str(int(t.split(".")[2]) - 86400)), id="expiry moved back"),
        pytest.param(lambda t: _token(secret=OTHER_SECRET), id="another secret"),
    ],
)
def test_a_forged_expired_token_is_bad_not_gone(forge: Callable[[str], str]) -> None:
    # GIVEN a forged token whose expiry has passed
    forged = forge(_token())

    # WHEN it is read after its expiry
    # THEN it is refused as forged: the signature is checked first, so a forger learns nothing
    with pytest.raises(BadToken):
        read_token(SECRET, forged, now=AFTER_EXPIRY + timedelta(days=2))


def test_the_signature_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a spy around hmac.compare_digest, as the module sees it
    calls: list[tuple[bytes, bytes]] = []
    real_compare_digest = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real_compare_digest(a, b)

    monkeypatch.setattr("path2prod.domain.approval_tokens.hmac.compare_digest", spy)
    token = _token()

    # WHEN a genuine and a forged token are read
    read_token(SECRET, token, now=NOW)
    with pytest.raises(BadToken):
        read_token(SECRET, _with_part(token, 3, _flip(token.split(".")[3], 0)), now=NOW)

    # THEN both signatures went through compare_digest, as 32-byte HMAC-SHA256 digests
    assert len(calls) == 2
    assert all(isinstance(a, bytes) and len(a) == 32 and len(b) == 32 for a, b in calls)


# -- quorum ---------------------------------------------------------------------------------------------


def test_a_quorum_of_one_approves_on_the_first_approval() -> None:
    # GIVEN a request needing one approval
    request = _open(quorum=1)

    # WHEN one approver approves
    decided = decide(request, ANN, Verdict.APPROVE, now=NOW, via="page")

    # THEN it is APPROVED, with that decision recorded
    assert decided.state is ApprovalState.APPROVED
    assert decided.decisions == (
        Decision(approver=ANN, verdict=Verdict.APPROVE, at="2026-11-03T10:00:00Z", via="page"),
    )
    assert decided.approved_by == (ANN,)
    assert decided.awaits_promotion


def test_a_quorum_of_two_needs_two_approvals() -> None:
    # GIVEN a request needing two approvals
    request = _open(quorum=2)

    # WHEN one approver approves
    once = decide(request, ANN, Verdict.APPROVE, now=NOW, via="page")

    # THEN it is still PENDING
    assert once.state is ApprovalState.PENDING
    assert once.state_at(NOW) is ApprovalState.PENDING
    assert not once.awaits_promotion

    # WHEN a second approver approves
    twice = decide(once, BOB, Verdict.APPROVE, now=NOW + timedelta(minutes=5), via="cli")

    # THEN it is APPROVED, with both decisions in order
    assert twice.state is ApprovalState.APPROVED
    assert twice.approved_by == (ANN, BOB)
    assert [d.via for d in twice.decisions] == ["page", "cli"]
    assert twice.decisions[1].at == "2026-11-03T10:05:00Z"


def test_deciding_does_not_change_the_request_it_was_given() -> None:
    # GIVEN a pending request
    request = _open(quorum=1)

    # WHEN it is decided
    decide(request, ANN, Verdict.APPROVE, now=NOW, via="page")

    # THEN the original is untouched (requests are values)
    assert request.state is ApprovalState.PENDING
    assert request.decisions == ()


@pytest.mark.parametrize("approvals_before", [0, 1])
def test_one_rejection_rejects_whatever_the_quorum(approvals_before: int) -> None:
    # GIVEN a request needing two approvals, approved by none or one so far
    request = _open(quorum=2)
    if approvals_before:
        request = decide(request, ANN, Verdict.APPROVE, now=NOW, via="page")

    # WHEN another approver rejects, with a reason
    decided = decide(request, BOB, Verdict.REJECT, now=NOW, via="page", reason="needs a migration first")

    # THEN it is REJECTED, and the reason is kept
    assert decided.state is ApprovalState.REJECTED
    assert decided.decision_of(BOB) == Decision(
        BOB, Verdict.REJECT, "2026-11-03T10:00:00Z", "page", "needs a migration first"
    )
    assert not decided.awaits_promotion


@pytest.mark.parametrize("again", [ANN, "ANN@Example.COM", "  Ann@example.com "])
@pytest.mark.parametrize("second_verdict", list(Verdict))
def test_an_approver_answers_only_once(again: str, second_verdict: Verdict) -> None:
    # GIVEN a request needing two approvals, approved once by Ann
    request = decide(_open(quorum=2), ANN, Verdict.APPROVE, now=NOW, via="page")

    # WHEN Ann answers again, however her email is typed
    # THEN it is refused as already decided, and her approval is not counted twice
    with pytest.raises(AlreadyDecided):
        decide(request, again, second_verdict, now=NOW, via="page")


@pytest.mark.parametrize("final_verdict", [Verdict.APPROVE, Verdict.REJECT], ids=["APPROVED", "REJECTED"])
@pytest.mark.parametrize("verdict", list(Verdict))
def test_a_decided_request_takes_no_more_answers(final_verdict: Verdict, verdict: Verdict) -> None:
    # GIVEN a request already decided by Ann
    request = decide(_open(quorum=1), ANN, final_verdict, now=NOW, via="page")

    # WHEN another approver answers
    # THEN it is refused as already decided (409)
    with pytest.raises(AlreadyDecided):
        decide(request, BOB, verdict, now=NOW, via="page")


# -- the author and who may answer -----------------------------------------------------------------------


@pytest.mark.parametrize("author_as_typed", [AUTHOR, "Dana@Example.com", " DANA@EXAMPLE.COM"])
def test_the_author_cannot_approve_their_own_change(author_as_typed: str) -> None:
    # GIVEN a request for Dana's commit, Dana being an approver of prd
    request = _open(quorum=1)

    # WHEN Dana approves it, however her email is typed
    # THEN it is refused as a self-approval
    with pytest.raises(SelfApproval):
        decide(request, author_as_typed, Verdict.APPROVE, now=NOW, via="page")


def test_the_author_is_matched_whatever_case_the_commit_has() -> None:
    # GIVEN a commit whose author email is in another case than the approvers list
    request = _open(author_email="DANA@Example.COM")

    # WHEN / THEN Dana still cannot approve it
    with pytest.raises(SelfApproval):
        decide(request, AUTHOR, Verdict.APPROVE, now=NOW, via="page")


def test_the_author_may_reject_their_own_change() -> None:
    # GIVEN a request for Dana's commit, Dana being an approver of prd
    request = _open(quorum=2)

    # WHEN Dana rejects it
    decided = decide(request, AUTHOR, Verdict.REJECT, now=NOW, via="page")

    # THEN it is REJECTED
    assert decided.state is ApprovalState.REJECTED


@pytest.mark.parametrize("verdict", list(Verdict))
def test_someone_not_an_approver_cannot_answer(verdict: Verdict) -> None:
    # GIVEN a pending request
    request = _open()

    # WHEN / THEN a stranger's answer is refused
    with pytest.raises(NotAnApprover):
        decide(request, STRANGER, verdict, now=NOW, via="page")


def test_approvers_are_matched_whatever_the_case() -> None:
    # GIVEN a request whose approvers are listed in lower case
    request = _open(quorum=1)

    # WHEN Ann answers with her email in upper case
    decided = decide(request, "ANN@EXAMPLE.COM", Verdict.APPROVE, now=NOW, via="page")

    # THEN it counts
    assert decided.state is ApprovalState.APPROVED


def test_a_stranger_is_told_they_are_no_approver_even_on_a_gone_request() -> None:
    # GIVEN an expired request
    request = _open()

    # WHEN / THEN a stranger learns nothing about its state
    with pytest.raises(NotAnApprover):
        decide(request, STRANGER, Verdict.APPROVE, now=AFTER_EXPIRY, via="page")


# -- expiry ---------------------------------------------------------------------------------------------


def test_a_request_expires_72_hours_after_it_opens_by_default() -> None:
    # WHEN
    request = _open()

    # THEN
    assert timedelta(hours=72) == DEFAULT_EXPIRY
    assert request.requested_at == "2026-11-03T10:00:00Z"
    assert request.expires_at == EXPIRES_AT
    assert request.state is ApprovalState.PENDING
    assert request.decisions == ()
    assert request.superseded_by is None


def test_a_request_may_expire_sooner() -> None:
    # WHEN
    request = open_request(
        env="stg",
        commit=COMMIT,
        upstream=replace(UPSTREAM, env="dev"),
        author_name="Dana",
        author_email=AUTHOR,
        message="Make checkout faster",
        approvers=(ANN,),
        quorum=1,
        now=NOW,
        expiry=timedelta(hours=4, minutes=30),
    )

    # THEN
    assert request.expires_at == "2026-11-03T14:30:00Z"


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (datetime(2026, 11, 3, 10, 0, tzinfo=UTC), ApprovalState.PENDING),
        (datetime(2026, 11, 6, 9, 59, 59, tzinfo=UTC), ApprovalState.PENDING),
        (datetime(2026, 11, 6, 10, 0, tzinfo=UTC), ApprovalState.EXPIRED),
        (datetime(2026, 11, 6, 10, 0, 1, tzinfo=UTC), ApprovalState.EXPIRED),
        # The same instants seen from another timezone.
        (datetime(2026, 11, 6, 11, 59, 59, tzinfo=timezone(timedelta(hours=2))), ApprovalState.PENDING),
        (datetime(2026, 11, 6, 12, 0, tzinfo=timezone(timedelta(hours=2))), ApprovalState.EXPIRED),
    ],
    ids=["at opening", "a second before", "at expiry", "a second after", "before, +02:00", "at, +02:00"],
)
def test_a_pending_request_is_expired_from_its_expiry_on(now: datetime, state: ApprovalState) -> None:
    # GIVEN a pending request expiring on 2026-11-06 at 10:00 UTC
    request = _open()

    # WHEN / THEN
    assert request.state_at(now) is state


@pytest.mark.parametrize("final_verdict", list(Verdict))
def test_a_decided_request_never_expires(final_verdict: Verdict) -> None:
    # GIVEN a request decided before its expiry
    request = decide(_open(), ANN, final_verdict, now=NOW, via="page")

    # WHEN / THEN its state stays what was decided long after
    assert request.state_at(AFTER_EXPIRY + timedelta(days=30)) is request.state


@pytest.mark.parametrize("verdict", list(Verdict))
def test_an_expired_request_cannot_be_decided(verdict: Verdict) -> None:
    # GIVEN a request half-approved, then left until its expiry
    request = decide(_open(quorum=2), ANN, Verdict.APPROVE, now=NOW, via="page")

    # WHEN / THEN answering it at or after its expiry says it is gone (410)
    with pytest.raises(RequestGone):
        decide(request, BOB, verdict, now=datetime(2026, 11, 6, 10, 0, tzinfo=UTC), via="page")
    with pytest.raises(RequestGone):
        decide(request, BOB, verdict, now=AFTER_EXPIRY, via="page")


# -- superseding ----------------------------------------------------------------------------------------


def _request_for(
    execution_id: str, succeeded_at: str, *, arrived: datetime, env: str = "prd"
) -> ApprovalRequest:
    upstream = replace(UPSTREAM, execution_id=execution_id, succeeded_at=succeeded_at)
    return _open(upstream=upstream, now=arrived, env=env)


def test_a_request_for_a_newer_upstream_success_supersedes_an_older_one() -> None:
    # GIVEN two upstream successes, the newer one arriving later
    older = _request_for("execution-1", "2026-11-03T09:00:00Z", arrived=NOW)
    newer = _request_for("execution-2", "2026-11-03T09:30:00Z", arrived=NOW + timedelta(minutes=1))

    # WHEN / THEN
    assert supersedes(newer, older)
    assert not supersedes(older, newer)


def test_superseding_follows_the_upstream_success_not_the_arrival() -> None:
    # GIVEN the event of an older upstream success arriving after the newer one's
    newer = _request_for("execution-2", "2026-11-03T09:30:00Z", arrived=NOW)
    late_older = _request_for("execution-1", "2026-11-03T09:00:00Z", arrived=NOW + timedelta(hours=1))

    # WHEN / THEN the late event does not push aside the newer success
    assert supersedes(newer, late_older)
    assert not supersedes(late_older, newer)


def test_successes_at_the_same_instant_are_ordered_one_way_only() -> None:
    # GIVEN two upstream successes at the same instant, arriving at the same time
    a = _request_for("execution-1", "2026-11-03T09:00:00Z", arrived=NOW)
    b = _request_for("execution-2", "2026-11-03T09:00:00Z", arrived=NOW)

    # WHEN / THEN exactly one supersedes the other
    assert supersedes(a, b) != supersedes(b, a)


def test_only_a_request_for_the_same_env_supersedes() -> None:
    # GIVEN an older request for prd and a newer one for stg
    prd = _request_for("execution-1", "2026-11-03T09:00:00Z", arrived=NOW, env="prd")
    stg = _request_for("execution-2", "2026-11-03T09:30:00Z", arrived=NOW, env="stg")

    # WHEN / THEN neither supersedes the other
    assert not supersedes(stg, prd)
    assert not supersedes(prd, stg)


def test_a_request_never_supersedes_itself() -> None:
    # GIVEN the same upstream success seen twice (a duplicated event), even re-opened later
    request = _request_for("execution-1", "2026-11-03T09:00:00Z", arrived=NOW)
    again = _request_for("execution-1", "2026-11-03T09:00:00Z", arrived=NOW + timedelta(minutes=5))

    # WHEN / THEN
    assert again.id == request.id
    assert not supersedes(again, request)
    assert not supersedes(request, request)


def test_supersede_marks_the_request_and_names_its_successor() -> None:
    # GIVEN an older request, half-approved, and a newer one
    first = replace(_request_for("execution-1", "2026-11-03T09:00:00Z", arrived=NOW), quorum=2)
    older = decide(first, ANN, Verdict.APPROVE, now=NOW, via="page")
    newer = _request_for("execution-2", "2026-11-03T09:30:00Z", arrived=NOW)

    # WHEN
    superseded = supersede(older, by=newer)

    # THEN it is SUPERSEDED by the newer one, keeping what was decided
    assert superseded.state is ApprovalState.SUPERSEDED
    assert superseded.superseded_by == newer.id
    assert superseded.decisions == older.decisions
    assert superseded.state_at(AFTER_EXPIRY) is ApprovalState.SUPERSEDED


@pytest.mark.parametrize("verdict", list(Verdict))
def test_a_superseded_request_cannot_be_decided(verdict: Verdict) -> None:
    # GIVEN a superseded request, still before its expiry
    older = _request_for("execution-1", "2026-11-03T09:00:00Z", arrived=NOW)
    newer = _request_for("execution-2", "2026-11-03T09:30:00Z", arrived=NOW)
    superseded = supersede(older, by=newer)

    # WHEN / THEN answering it says it is gone (410)
    with pytest.raises(RequestGone):
        decide(superseded, ANN, verdict, now=NOW, via="page")


# -- request ids ----------------------------------------------------------------------------------------


def test_the_same_upstream_success_always_names_the_same_request() -> None:
    # GIVEN the same (env, pipeline, execution, commit), with everything else different
    same_success_later = replace(UPSTREAM, succeeded_at="2026-11-04T00:00:00Z", account=None)

    # WHEN / THEN the id is the same, and so is that of the request opened from it
    assert request_id("prd", UPSTREAM, COMMIT) == request_id("prd", same_success_later, COMMIT)
    assert _open().id == _open(now=NOW + timedelta(hours=1), approvers=(BOB,)).id
    assert request_id("prd", UPSTREAM, COMMIT).startswith("apr-")


@pytest.mark.parametrize(
    ("env", "upstream", "commit"),
    [
        ("stg", UPSTREAM, COMMIT),
        ("prd", replace(UPSTREAM, pipeline="path2prod-other"), COMMIT),
        ("prd", replace(UPSTREAM, execution_id="execution-2"), COMMIT),
        ("prd", UPSTREAM, OTHER_COMMIT),
    ],
    ids=["another env", "another pipeline", "another execution", "another commit"],
)
def test_anything_else_names_another_request(env: str, upstream: Upstream, commit: str) -> None:
    # WHEN / THEN
    assert request_id(env, upstream, commit) != request_id("prd", UPSTREAM, COMMIT)


# -- opening a request ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("approvers", "quorum"),
    [((), 1), ((), 0), ((ANN,), 0), ((ANN, BOB), -1), ((ANN,), 2), ((ANN, BOB), 3)],
    ids=["no approvers", "no approvers, quorum 0", "quorum 0", "negative quorum", "2 of 1", "3 of 2"],
)
def test_a_request_nobody_could_decide_is_not_opened(approvers: tuple[str, ...], quorum: int) -> None:
    # WHEN / THEN
    with pytest.raises(ValueError):
        _open(approvers=approvers, quorum=quorum)


def test_a_quorum_of_every_approver_is_allowed() -> None:
    # WHEN
    request = _open(approvers=(ANN, BOB), quorum=2)

    # THEN
    assert request.quorum == 2
    assert request.approvers == (ANN, BOB)


# -- promotion bookkeeping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("promotion", "awaits"),
    [(None, True), ("FAILED", True), ("PUSHED", False), ("REFUSED", False)],
)
def test_an_approved_request_awaits_promotion_until_pushed_or_refused(
    promotion: str | None, awaits: bool
) -> None:
    # GIVEN an approved request at some stage of its promotion
    request = replace(decide(_open(), ANN, Verdict.APPROVE, now=NOW, via="page"), promotion=promotion)

    # WHEN / THEN
    assert request.awaits_promotion is awaits


# -- separation of duties over the whole promotion -------------------------------------------------------

TARGET_HEAD = "b0a710ad" + "0" * 32  # what the target env runs now
EARLIER = "a1" * 20  # Ann's commit, below the candidate


def _commit(sha: str, author: str, committer: str | None = None, subject: str = "a change") -> PromotedCommit:
    return PromotedCommit(
        sha=sha,
        author_name=author.split("@")[0],
        author_email=author,
        committer_email=committer or author,
        subject=subject,
    )


def _promoting(
    *commits: PromotedCommit, truncated: bool = False, approvers: tuple[str, ...] = ()
) -> ApprovalRequest:
    """A request for COMMIT (Dana's), whose promotion brings `commits` (newest first) onto TARGET_HEAD."""
    return open_request(
        env="prd",
        commit=COMMIT,
        upstream=UPSTREAM,
        author_name="Dana",
        author_email=AUTHOR,
        message="Make checkout faster",
        approvers=approvers or (ANN, BOB, CAROL, AUTHOR),
        quorum=1,
        now=NOW,
        promoted=PromotedRange(target_head=TARGET_HEAD, commits=commits, truncated=truncated),
    )


def test_the_author_of_an_earlier_promoted_commit_cannot_approve_naming_that_commit() -> None:
    # GIVEN Ann's commit, with Dana's candidate on top: promoting Dana's brings Ann's too
    request = _promoting(_commit(COMMIT, AUTHOR), _commit(EARLIER, ANN))

    # WHEN Ann approves, THEN it is refused, naming her commit
    with pytest.raises(SelfApproval, match=EARLIER[:12]):
        decide(request, ANN, Verdict.APPROVE, now=NOW, via="page")
    # THEN Dana, the candidate's author, is refused too; Bob, who wrote neither, approves
    with pytest.raises(SelfApproval, match="the author cannot approve their own change"):
        decide(request, AUTHOR, Verdict.APPROVE, now=NOW, via="page")
    assert decide(request, BOB, Verdict.APPROVE, now=NOW, via="page").state is ApprovalState.APPROVED


def test_an_author_of_a_promoted_commit_may_still_reject_it() -> None:
    # GIVEN Ann wrote a commit the promotion brings
    request = _promoting(_commit(COMMIT, AUTHOR), _commit(EARLIER, ANN))

    # WHEN she rejects, THEN it is rejected
    assert decide(request, ANN, Verdict.REJECT, now=NOW, via="page").state is ApprovalState.REJECTED


def test_the_committer_of_a_promoted_commit_cannot_approve() -> None:
    # GIVEN a commit Carol wrote and Ann committed (applied her patch, rebased it)
    request = _promoting(_commit(COMMIT, AUTHOR), _commit(EARLIER, CAROL, committer=ANN))

    # WHEN Ann and Carol approve, THEN both are refused, naming that commit
    for approver in (ANN, CAROL):
        with pytest.raises(SelfApproval, match=EARLIER[:12]):
            decide(request, approver, Verdict.APPROVE, now=NOW, via="page")


@pytest.mark.parametrize("as_git_has_it", ["ANN@Example.com", " ann@example.COM "])
def test_promoted_authors_are_matched_whatever_the_case(as_git_has_it: str) -> None:
    # GIVEN Ann's commit, whose email git holds in another case or with spaces
    request = _promoting(_commit(COMMIT, AUTHOR), _commit(EARLIER, as_git_has_it))

    # WHEN Ann approves as the approvers list spells her, THEN it is refused
    with pytest.raises(SelfApproval):
        decide(request, ANN, Verdict.APPROVE, now=NOW, via="page")
    # THEN the request keeps her email once, lowercased, with her commit
    assert [(a.email, a.commit) for a in request.authors] == [(AUTHOR, COMMIT), (ANN, EARLIER)]


def test_promoted_authors_are_each_person_once_with_their_newest_commit() -> None:
    # GIVEN commits newest first: Ann twice (in two spellings), Bob as committer, one without an email
    commits = [
        _commit("c3" * 20, "Ann@example.com"),
        _commit("c2" * 20, CAROL, committer=BOB),
        _commit("c1" * 20, ANN),
        _commit("c0" * 20, ""),
    ]

    # WHEN
    authors, complete = promoted_authors(commits)

    # THEN each person is there once, lowercased, with the newest commit they wrote or committed
    assert [(a.email, a.commit) for a in authors] == [(ANN, "c3" * 20), (CAROL, "c2" * 20), (BOB, "c2" * 20)]
    assert complete


def test_a_truncated_range_lets_nobody_approve_but_anyone_reject() -> None:
    # GIVEN a range git stopped walking before its end: its other authors are unknown
    request = _promoting(_commit(COMMIT, AUTHOR), _commit(EARLIER, ANN), truncated=True)
    assert not request.range_complete

    # WHEN Bob approves, THEN he is refused, told why and what to do
    with pytest.raises(
        SelfApproval, match="too long to check authors; promote in smaller steps or push by hand"
    ):
        decide(request, BOB, Verdict.APPROVE, now=NOW, via="page")
    # THEN a rejection is still taken
    assert decide(request, BOB, Verdict.REJECT, now=NOW, via="page").state is ApprovalState.REJECTED


def test_more_authors_than_a_request_keeps_makes_the_range_not_complete() -> None:
    # GIVEN a range written by one person more than a request keeps
    many = [_commit(f"{i:040x}", f"dev{i}@example.com") for i in range(MAX_AUTHORS + 1)]

    # WHEN the request opens
    request = _promoting(*many)

    # THEN it keeps MAX_AUTHORS of them, and nobody may approve
    assert len(request.authors) == MAX_AUTHORS
    assert not request.range_complete
    with pytest.raises(SelfApproval, match="too long to check authors"):
        decide(request, BOB, Verdict.APPROVE, now=NOW, via="page")


def test_an_email_too_long_to_keep_makes_the_range_not_complete() -> None:
    # GIVEN a commit whose author email is longer than any address (a request could not hold many)
    request = _promoting(_commit(COMMIT, AUTHOR), _commit(EARLIER, "a" * 400 + "@example.com"))

    # WHEN / THEN that email is not kept, and nobody may approve
    assert [a.email for a in request.authors] == [AUTHOR]
    assert not request.range_complete


def test_a_request_shows_at_most_50_commits_with_short_subjects_and_counts_them_all() -> None:
    # GIVEN a range of 55 commits by Ann, each with a very long subject
    commits = [_commit(f"{i:040x}", ANN, subject="x" * 1000) for i in range(55)]

    # WHEN the request opens
    request = _promoting(*commits)

    # THEN it shows the 50 newest, their subjects cut, counts all 55 and knows what the target runs
    assert len(request.commits) == MAX_COMMITS_SHOWN == 50
    assert [c.sha for c in request.commits] == [c.sha for c in commits[:50]]
    assert all(len(c.subject) == MAX_SUBJECT_LENGTH for c in request.commits)
    assert (request.commit_count, request.target_head, request.range_complete) == (55, TARGET_HEAD, True)
    assert [a.email for a in request.authors] == [ANN]


def test_an_empty_range_still_refuses_the_candidates_author() -> None:
    # GIVEN the target runs the candidate already: the promotion brings no commit
    request = _promoting()

    # WHEN / THEN nobody else is refused, its author still is
    assert (request.commit_count, request.authors, request.range_complete) == (0, (), True)
    with pytest.raises(SelfApproval):
        decide(request, AUTHOR, Verdict.APPROVE, now=NOW, via="page")
    assert decide(request, ANN, Verdict.APPROVE, now=NOW, via="page").state is ApprovalState.APPROVED


def test_a_request_opened_without_a_range_checks_its_commits_author_only() -> None:
    # GIVEN a request as they were opened before promoted ranges were recorded
    request = _open()

    # WHEN / THEN its range is unknown, its author refused, anyone else may approve
    assert (request.commit_count, request.authors, request.range_complete) == (None, (), True)
    with pytest.raises(SelfApproval):
        decide(request, AUTHOR, Verdict.APPROVE, now=NOW, via="page")
    assert decide(request, ANN, Verdict.APPROVE, now=NOW, via="page").state is ApprovalState.APPROVED


# -- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (BadToken, 403),
        (NotAnApprover, 403),
        (SelfApproval, 403),
        (RequestGone, 410),
        (AlreadyDecided, 409),
        (UnknownRequest, 404),
    ],
)
def test_each_error_carries_the_http_status_of_its_answer(error: type[ApprovalError], status: int) -> None:
    # WHEN
    raised = error("why")

    # THEN it is a path2prod approval error with that status
    assert raised.status == status
    assert error.status == status
    assert isinstance(raised, ApprovalError)
    assert isinstance(raised, Path2ProdError)


def test_an_unknown_request_is_also_a_lookup_error() -> None:
    # WHEN / THEN
    assert issubclass(UnknownRequest, LookupError)

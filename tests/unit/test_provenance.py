"""Provenance, decided from the three ledgers' entries (domain/provenance.py): every way a deployment in
stg or prd is backed, and every way it is not."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from path2prod.audit.provenance import ProvenanceReport
from path2prod.audit.report import render_report
from path2prod.cli.audit import format_report
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.provenance import Backing, Deployment, deployments_in, provenance_of
from path2prod.domain.time import format_time, parse_time
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.domain.window import TimeWindow
from tests.support.entries import ledger_entry, started_then

A = "a" * 40
B = "b" * 40
C = "c" * 40
DAY = "2026-11-0"


def deployed(env: str, commit: str, execution: str, at: str, state: str = "SUCCEEDED") -> list[LedgerEntry]:
    """An execution of `commit` in env: STARTED at `at`, ended `state` five minutes later (same hour)."""
    ended = format_time(parse_time(at) + timedelta(minutes=5))
    return started_then(state, ended, env=env, commit=commit, execution_id=execution, time=at)


def request_entry(
    env: str, commit: str, request: str, state: str, at: str, who: str = "path2prod"
) -> LedgerEntry:
    """An approval entry of `request` (REQUESTED, APPROVED, REJECTED, ...)."""
    return ledger_entry(
        env=env,
        commit=commit,
        kind=EntryKind.APPROVAL,
        state=state,
        execution_id=request,
        time=at,
        trigger=who,
    )


def promoted(env: str, commit: str, request: str, *, approved: str, pushed: str) -> list[LedgerEntry]:
    """A request for `commit` opened, approved by bob at `approved`, pushed by the promoter at `pushed`."""
    return [
        request_entry(env, commit, request, "REQUESTED", approved),
        request_entry(env, commit, request, "APPROVED", approved, who="bob@example.com"),
        ledger_entry(
            env=env,
            commit=commit,
            kind=EntryKind.PROMOTION,
            state="SUCCEEDED",
            execution_id=request,
            time=pushed,
            trigger="path2prod",
        ),
    ]


def rollback(
    env: str, target: str, at: str, *, reason: str = "automatic", ended: str | None = None
) -> list[LedgerEntry]:
    """A rollback of env to `target`: STARTED at `at`, SUCCEEDED at `ended` when given."""
    started = ledger_entry(
        env=env,
        commit=target,
        kind=EntryKind.ROLLBACK,
        state="STARTED",
        execution_id=f"failed-{at}",
        time=at,
        from_commit=C,
        trigger="automatic",
        reason=reason,
    )
    return [started] + ([replace(started, state=EntryState.SUCCEEDED, time=ended)] if ended else [])


def path_of_a() -> dict[str, list[LedgerEntry]]:
    """A entered dev on day 1, was promoted to stg on day 2 and to prd on day 3, each step approved."""
    return {
        "dev": deployed("dev", A, "dev-a", f"{DAY}1T10:00:00Z"),
        "stg": [
            *promoted("stg", A, "apr-stg-a", approved=f"{DAY}2T09:00:00Z", pushed=f"{DAY}2T09:00:01Z"),
            *deployed("stg", A, "stg-a", f"{DAY}2T09:00:02Z"),
        ],
        "prd": [
            *promoted("prd", A, "apr-prd-a", approved=f"{DAY}3T09:00:00Z", pushed=f"{DAY}3T09:00:00Z"),
            *deployed("prd", A, "prd-a", f"{DAY}3T09:00:00Z"),
        ],
    }


def only(env: str, ledgers: dict[str, list[LedgerEntry]], commit: str | None = None) -> Deployment:
    found = [d for d in deployments_in(env, ledgers[env]) if commit is None or d.commit == commit]
    assert len(found) == 1, found
    return found[0]


def execution(execution_id: str, ledgers: dict[str, list[LedgerEntry]]) -> Deployment:
    return next(d for d in deployments_in("prd", ledgers["prd"]) if d.execution_id == execution_id)


def test_a_deployment_in_dev_is_the_entry_point() -> None:
    # GIVEN A deployed in dev
    ledgers = path_of_a()
    # WHEN
    provenance = provenance_of(only("dev", ledgers), ledgers)
    # THEN complete by definition, its chain is itself
    assert provenance.complete and provenance.via is Backing.ENTRY_POINT
    assert [(s.env, s.what, s.ref) for s in provenance.steps] == [("dev", "SUCCEEDED", "dev-a")]


def test_a_promotion_to_prd_is_complete_with_its_whole_chain() -> None:
    # GIVEN A's path dev -> stg -> prd, each promotion approved and pushed before it deployed
    ledgers = path_of_a()
    # WHEN
    provenance = provenance_of(only("prd", ledgers), ledgers)
    # THEN complete, and the chain runs from dev's success to prd's, oldest first
    assert provenance.complete and provenance.reason is None and provenance.via is Backing.PROMOTION
    assert [(s.env, s.what, s.ref, s.by) for s in provenance.steps] == [
        ("dev", "SUCCEEDED", "dev-a", None),
        ("stg", "APPROVED", "apr-stg-a", "bob@example.com"),
        ("stg", "PUSHED", "apr-stg-a", "path2prod"),
        ("stg", "SUCCEEDED", "stg-a", None),
        ("prd", "APPROVED", "apr-prd-a", "bob@example.com"),
        ("prd", "PUSHED", "apr-prd-a", "path2prod"),
        ("prd", "SUCCEEDED", "prd-a", None),
    ]
    assert provenance.steps[-1].time == f"{DAY}3T09:05:00Z"


def test_a_commit_pushed_straight_to_prd_is_broken_twice_over() -> None:
    # GIVEN B pushed by hand to prd: never in dev or stg, never approved
    ledgers = {**path_of_a(), "prd": deployed("prd", B, "prd-b", f"{DAY}4T10:00:00Z")}
    # WHEN
    provenance = provenance_of(only("prd", ledgers), ledgers)
    # THEN
    assert not provenance.complete
    assert provenance.reason == f"no approval in prd for {B[:12]}; never SUCCEEDED in stg"
    assert [(s.env, s.what) for s in provenance.steps] == [("prd", "SUCCEEDED")]


def test_approved_after_it_deployed() -> None:
    # GIVEN A pushed by hand to prd on day 3, approved (and "pushed": main had it already) on day 4
    ledgers = path_of_a()
    ledgers["prd"] = [
        *deployed("prd", A, "prd-a", f"{DAY}3T09:00:00Z"),
        *promoted("prd", A, "apr-prd-a", approved=f"{DAY}4T09:00:00Z", pushed=f"{DAY}4T09:00:01Z"),
    ]
    # WHEN
    provenance = provenance_of(only("prd", ledgers), ledgers)
    # THEN
    assert provenance.reason == f"approved after it deployed (apr-prd-a at {DAY}4T09:00:00Z)"


def test_approved_but_never_pushed_by_the_promoter() -> None:
    # GIVEN A approved for prd, its push REFUSED, and A deployed anyway (someone pushed it)
    ledgers = path_of_a()
    approved = promoted("prd", A, "apr-prd-a", approved=f"{DAY}3T08:00:00Z", pushed=f"{DAY}3T08:00:01Z")
    approved[-1] = replace(approved[-1], state=EntryState.REFUSED)
    ledgers["prd"] = [*approved, *deployed("prd", A, "prd-a", f"{DAY}3T09:00:00Z")]
    # WHEN
    provenance = provenance_of(only("prd", ledgers), ledgers)
    # THEN
    assert provenance.reason == (
        "approved (apr-prd-a) but not pushed by the promoter (promotion REFUSED): pushed by hand"
    )


def test_a_rejected_request_is_no_approval() -> None:
    # GIVEN A's prd request rejected, and A deployed in prd anyway
    ledgers = path_of_a()
    ledgers["prd"] = [
        request_entry("prd", A, "apr-prd-a", "REQUESTED", f"{DAY}3T08:00:00Z"),
        request_entry("prd", A, "apr-prd-a", "REJECTED", f"{DAY}3T08:30:00Z", who="bob@example.com"),
        *deployed("prd", A, "prd-a", f"{DAY}3T09:00:00Z"),
    ]
    # WHEN
    provenance = provenance_of(only("prd", ledgers), ledgers)
    # THEN it SUCCEEDED in stg, so only the approval is missing
    assert provenance.reason == f"no approval in prd for {A[:12]} (request apr-prd-a REJECTED)"


def test_an_approved_commit_that_never_succeeded_upstream_is_broken() -> None:
    # GIVEN A approved and pushed to prd, but stg's ledger holds no success of it
    ledgers = {**path_of_a(), "stg": []}
    # WHEN
    provenance = provenance_of(only("prd", ledgers), ledgers)
    # THEN
    assert provenance.reason == "never SUCCEEDED in stg"


def test_an_upstream_success_after_the_deployment_does_not_back_it() -> None:
    # GIVEN A succeeded in stg only on day 5, after it deployed in prd on day 3
    ledgers = path_of_a()
    ledgers["stg"] = [
        *promoted("stg", A, "apr-stg-a", approved=f"{DAY}5T09:00:00Z", pushed=f"{DAY}5T09:00:01Z"),
        *deployed("stg", A, "stg-a", f"{DAY}5T09:00:02Z"),
    ]
    # WHEN
    provenance = provenance_of(only("prd", ledgers), ledgers)
    # THEN
    assert provenance.reason == "SUCCEEDED in stg only after it deployed in prd"


def test_a_broken_link_upstream_breaks_the_chain_downstream() -> None:
    # GIVEN A pushed by hand to stg (never in dev), then properly approved and promoted to prd
    ledgers = path_of_a()
    ledgers["dev"] = []
    ledgers["stg"] = deployed("stg", A, "stg-a", f"{DAY}2T09:00:02Z")
    # WHEN
    stg = provenance_of(only("stg", ledgers), ledgers)
    prd = provenance_of(only("prd", ledgers), ledgers)
    # THEN stg's link is broken, and so is prd's chain, saying where
    assert stg.reason == f"no approval in stg for {A[:12]}; never SUCCEEDED in dev"
    assert prd.reason == f"stg: no approval in stg for {A[:12]}; never SUCCEEDED in dev"
    assert [(s.env, s.what) for s in prd.steps] == [
        ("stg", "SUCCEEDED"),
        ("prd", "APPROVED"),
        ("prd", "PUSHED"),
        ("prd", "SUCCEEDED"),
    ]


def test_a_rollback_to_a_commit_that_succeeded_here_before_is_complete() -> None:
    # GIVEN A runs in prd; B is promoted, fails; prd is rolled back to A
    ledgers = path_of_a()
    ledgers["prd"] += [
        *promoted("prd", B, "apr-prd-b", approved=f"{DAY}4T09:00:00Z", pushed=f"{DAY}4T09:00:00Z"),
        *deployed("prd", B, "prd-b", f"{DAY}4T09:00:00Z", state="FAILED"),
        *rollback("prd", A, f"{DAY}4T09:06:00Z", ended=f"{DAY}4T09:12:00Z"),
        *deployed("prd", A, "prd-a2", f"{DAY}4T09:07:00Z"),
    ]
    rolled_back = execution("prd-a2", ledgers)
    # WHEN
    provenance = provenance_of(rolled_back, ledgers)
    # THEN complete: the rollback brought back what SUCCEEDED on day 3
    assert provenance.complete and provenance.via is Backing.ROLLBACK
    assert [(s.what, s.ref) for s in provenance.steps] == [
        ("SUCCEEDED", "prd-a"),
        ("ROLLBACK", f"failed-{DAY}4T09:06:00Z"),
        ("SUCCEEDED", "prd-a2"),
    ]


def test_a_redeploy_is_a_rollback_to_what_runs() -> None:
    # GIVEN A runs in prd and is redeployed (a rollback entry whose reason says redeploy)
    ledgers = path_of_a()
    ledgers["prd"] += [
        *rollback("prd", A, f"{DAY}5T09:00:00Z", reason="redeploy"),
        *deployed("prd", A, "prd-a2", f"{DAY}5T09:00:01Z"),
    ]
    redeployed = execution("prd-a2", ledgers)
    # WHEN
    provenance = provenance_of(redeployed, ledgers)
    # THEN
    assert provenance.complete and [s.what for s in provenance.steps] == [
        "SUCCEEDED",
        "REDEPLOY",
        "SUCCEEDED",
    ]


def test_a_rollback_to_a_commit_that_never_ran_here_is_broken() -> None:
    # GIVEN a rollback entry of prd to B, which never succeeded in prd, then B deployed
    ledgers = path_of_a()
    ledgers["prd"] += [
        *rollback("prd", B, f"{DAY}5T09:00:00Z"),
        *deployed("prd", B, "prd-b", f"{DAY}5T09:00:01Z"),
    ]
    # WHEN
    provenance = provenance_of(only("prd", ledgers, B), ledgers)
    # THEN
    assert provenance.reason == f"rollback to {B[:12]}, which had never SUCCEEDED in prd"


def test_a_re_run_after_a_rollback_is_backed_by_the_rollback() -> None:
    # GIVEN B failed in prd on day 4, prd was rolled back to A, and A was run again on day 6
    ledgers = path_of_a()
    ledgers["prd"] += [
        *promoted("prd", B, "apr-prd-b", approved=f"{DAY}4T08:00:00Z", pushed=f"{DAY}4T08:00:00Z"),
        *deployed("prd", B, "prd-b", f"{DAY}4T08:00:01Z", state="FAILED"),
        *rollback("prd", A, f"{DAY}4T09:00:00Z", ended=f"{DAY}4T09:10:00Z"),
        *deployed("prd", A, "prd-a2", f"{DAY}4T09:01:00Z"),
        *deployed("prd", A, "prd-a3", f"{DAY}6T09:00:00Z"),
    ]
    third = execution("prd-a3", ledgers)
    # WHEN
    provenance = provenance_of(third, ledgers)
    # THEN nothing else ran since the rollback put A back on main (the promotion of day 3 would not do:
    # B deployed after it)
    assert provenance.complete and provenance.via is Backing.ROLLBACK


def test_a_commit_pushed_again_by_hand_after_others_deployed_is_broken() -> None:
    # GIVEN A promoted to prd on day 3, then B deployed on day 4, then A pushed again by hand on day 5
    ledgers = path_of_a()
    ledgers["prd"] += [
        *promoted("prd", B, "apr-prd-b", approved=f"{DAY}4T09:00:00Z", pushed=f"{DAY}4T09:00:00Z"),
        *deployed("prd", B, "prd-b", f"{DAY}4T09:00:01Z"),
        *deployed("prd", A, "prd-a2", f"{DAY}5T09:00:00Z"),
    ]
    again = execution("prd-a2", ledgers)
    # WHEN
    provenance = provenance_of(again, ledgers)
    # THEN
    assert provenance.reason == (
        f"pushed by hand: {A[:12]} was put on prd's main by promotion apr-prd-a at {DAY}3T09:00:00Z, "
        f"but {B[:12]} deployed since"
    )


def test_a_re_run_of_the_promoted_commit_with_nothing_in_between_stays_backed() -> None:
    # GIVEN A promoted to prd, its execution re-run (a new execution of the same commit) the next day
    ledgers = path_of_a()
    ledgers["prd"] += deployed("prd", A, "prd-a2", f"{DAY}4T09:00:00Z")
    second = execution("prd-a2", ledgers)
    # WHEN / THEN main still names what the promotion pushed
    assert provenance_of(second, ledgers).complete


def test_a_promotion_with_no_approval_on_record_is_broken() -> None:
    # GIVEN a promotion entry for A in prd but no APPROVED entry before it
    ledgers = path_of_a()
    ledgers["prd"] = [entry for entry in ledgers["prd"] if entry.state != EntryState.APPROVED]
    # WHEN
    provenance = provenance_of(only("prd", ledgers), ledgers)
    # THEN
    assert provenance.reason == "promotion apr-prd-a has no APPROVED entry before its push"


def test_the_gate_asks_about_a_commit_about_to_deploy() -> None:
    # GIVEN A approved and pushed to prd, and the gate asking before prd's build, with no execution yet
    ledgers = path_of_a()
    ledgers["prd"] = ledgers["prd"][:3]  # the approval and the push, no deployment yet
    about_to = Deployment(env="prd", commit=A, started_at=f"{DAY}3T09:00:30Z")
    # WHEN
    provenance = provenance_of(about_to, ledgers)
    # THEN complete, its chain ends with the push
    assert provenance.complete and provenance.steps[-1].what == "PUSHED"
    # and B, never pushed by path2prod, is refused with its reason
    assert provenance_of(replace(about_to, commit=B), ledgers).reason == (
        f"no approval in prd for {B[:12]}; never SUCCEEDED in stg"
    )


def test_only_executions_that_ended_succeeded_are_deployments() -> None:
    # GIVEN an execution that failed, one that failed then succeeded on attempt 2, and one still running
    retried = deployed("prd", B, "prd-b", f"{DAY}4T09:00:00Z", state="FAILED")
    retried.append(replace(retried[-1], attempt=2, state=EntryState.SUCCEEDED, time=f"{DAY}4T09:30:00Z"))
    entries = [
        *deployed("prd", A, "prd-a", f"{DAY}3T09:00:00Z", state="FAILED"),
        *retried,
        *deployed("prd", C, "prd-c", f"{DAY}5T09:00:00Z")[:1],
    ]
    # WHEN
    found = deployments_in("prd", entries)
    # THEN only the retried one, started at its first entry, succeeded at attempt 2's end
    assert found == [Deployment("prd", B, f"{DAY}4T09:00:00Z", "prd-b", f"{DAY}4T09:30:00Z")]


# -- the text `audit provenance` prints ------------------------------------------------------------------


def test_the_table_marks_broken_ones_and_shows_no_control_character() -> None:
    # GIVEN A's complete path, and B pushed straight to prd by an execution whose id holds an escape
    ledgers = path_of_a()
    ledgers["prd"] += deployed("prd", B, "prd-b\x1b[2J", f"{DAY}4T10:00:00Z")
    rows = tuple(provenance_of(d, ledgers) for d in deployments_in("prd", ledgers["prd"]))
    report = ProvenanceReport(TimeWindow(f"{DAY}1T00:00:00Z", f"{DAY}9T00:00:00Z"), ("prd",), rows)
    # WHEN
    text = format_report(report)
    # THEN
    lines = text.splitlines()
    assert lines[1].endswith("complete (promotion: dev > stg > prd)")
    assert lines[2].endswith(f"BROKEN: no approval in prd for {B[:12]}; never SUCCEEDED in stg")
    assert "\x1b" not in text and "prd-b[2J" not in text
    assert lines[-1] == f"prd: 2 deployments in {DAY}1T00:00:00Z .. {DAY}9T00:00:00Z, 1 broken"


def test_the_report_page_marks_broken_chains_first_and_escapes_what_the_ledger_says() -> None:
    # GIVEN A's complete path, and B pushed straight to prd by an execution whose id is markup
    ledgers = path_of_a()
    ledgers["prd"] += deployed("prd", B, "<b>prd-b</b>", f"{DAY}4T10:00:00Z")
    rows = tuple(provenance_of(d, ledgers) for d in deployments_in("prd", ledgers["prd"]))
    report = ProvenanceReport(TimeWindow(f"{DAY}1T00:00:00Z", f"{DAY}9T00:00:00Z"), ("prd",), rows)

    # WHEN the report is rendered with them, and without
    page = render_report({}, {}, since="s", until="u", generated_at="g", provenance=report)
    without = render_report({}, {}, since="s", until="u", generated_at="g")

    # THEN a provenance section: the count of broken ones, B's row first and marked, with its reason;
    # A's row complete; the execution id shown as text, never as markup
    section = page[page.index('<section id="provenance">') :]
    section = section[: section.index("</section>")]
    assert "1 of 2 deployments in prd have a broken chain" in section
    rows_html = re.findall(r"<tr[^>]*>.*?</tr>", section[section.index("<tbody>") :])
    assert rows_html[0].startswith('<tr class="broken">') and B in rows_html[0]
    assert f"BROKEN: no approval in prd for {B[:12]}; never SUCCEEDED in stg" in rows_html[0]
    assert "&lt;b&gt;prd-b&lt;/b&gt;" in rows_html[0] and "<b>prd-b</b>" not in page
    assert rows_html[1].startswith("<tr>") and "complete (promotion: dev &gt; stg &gt; prd)" in rows_html[1]
    assert 'id="provenance"' not in without

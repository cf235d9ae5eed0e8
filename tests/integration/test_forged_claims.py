"""The attacks issue 9 found, as regression tests: forged successes and approvals change nothing.

Each was tried against the sandbox as an attacker would (an event put on stg's bus, an approval request
item flipped in the table); here each is one handler in-process against moto with real git repos.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

# The approvals functions' world (stg, dev's repo, the people's inboxes), as their own tests build it.
from test_approvals import DEV_ACCOUNT, Stg, _approve, feature, pending, stg  # noqa: F401

from path2prod.domain.approvals import ApprovalRequest, ApprovalState
from path2prod.domain.errors import InvalidEvent
from path2prod.domain.vocabulary import EntryKind

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.mark.parametrize(
    ("change", "names"),
    [
        pytest.param({"state": "FAILED"}, "detail.state", id="failed-state"),
        pytest.param({"env": "stg"}, "detail.env", id="not-the-previous-env"),
        pytest.param({"env": "prd"}, "detail.env", id="a-later-env"),
        pytest.param({"account": "999999999999"}, "detail.account", id="another-account"),
        pytest.param({"time": "9999-01-01T00:00:00Z"}, "detail.time", id="year-9999"),
        pytest.param({"time": "2024-05-14T09:40:00Z"}, "detail.time", id="ten-minutes-ahead"),
        pytest.param({"time": "2024-05-10T09:00:00Z"}, "detail.time", id="older-than-a-request-lives"),
        pytest.param({"commit": "0" * 40}, "detail.commit", id="not-in-dev-s-repo"),
        pytest.param({"commit": "<script>x</script>"}, "detail.commit", id="not-a-commit"),
        pytest.param({"execution_id": "made-up"}, "detail.execution_id", id="not-an-execution-id"),
    ],
)
def test_a_success_claim_that_cannot_be_confirmed_opens_nothing(
    stg: Stg, feature: str, change: dict[str, object], names: str
) -> None:
    # GIVEN dev's forwarded success of a commit dev holds, with one claim changed (stg's clock: 09:30)
    event = stg.succeeded_in_dev(feature, "execution-forged", "2024-05-14T09:18:40Z")
    event["detail"].update(change)
    before = stg.ledger.chain_head()

    # WHEN the approvals function gets it / THEN InvalidEvent names the field; nothing is opened or mailed
    with pytest.raises(InvalidEvent, match=f"^{names}: "):
        stg.open(event)
    assert stg.ledger.chain_head() == before
    assert stg.requests.recent("stg") == []
    assert stg.read_mail() == {approver: [] for approver in stg.inboxes}


def test_a_success_dated_9999_does_not_silence_later_requests(stg: Stg, feature: str) -> None:
    # GIVEN a forged success of dev's base commit dated year 9999 was refused
    forged = stg.succeeded_in_dev(stg.base, "execution-forged", "9999-01-01T00:00:00Z")
    with pytest.raises(InvalidEvent):
        stg.open(forged)

    # WHEN dev's real success of the feature arrives
    opened = stg.open(stg.succeeded_in_dev(feature, "execution-real", "2024-05-14T09:18:40Z"))

    # THEN its request is PENDING and the approvers are asked
    assert opened["state"] == "PENDING"
    assert all(len(mails) == 1 for mails in stg.read_mail().values())


def test_a_promotion_event_naming_another_commit_than_its_request_pushes_nothing(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # GIVEN bob approved the request; a "Promotion Approved" names it with dev's base commit instead
    _approve(stg, pending)
    event = stg.approved(pending)
    event["detail"]["commit"] = stg.base
    main, before = stg.stg.main, stg.ledger.chain_head()

    # WHEN the promoter gets it / THEN refused, nothing pushed or written
    with pytest.raises(InvalidEvent, match=r"^detail\.commit: "):
        stg.promote(event)
    assert (stg.stg.main, stg.ledger.chain_head()) == (main, before)


def test_a_request_flipped_to_approved_outside_the_ledger_is_not_pushed(
    stg: Stg, pending: ApprovalRequest
) -> None:
    # GIVEN the request item says APPROVED, but no approval of it was ever recorded in the ledger (the
    # mutable item was written straight into the table)
    flipped = stg.requests.write([(pending, replace(pending, state=ApprovalState.APPROVED))])[0]
    main = stg.stg.main

    # WHEN the promoter's sweep finds it owed a push
    swept = stg.promote(stg.approved(flipped))

    # THEN it is refused for the record, alerted, and stg's main does not move
    assert swept["promotion"] == "REFUSED"
    assert stg.stg.main == main
    assert stg.entries(pending.id, EntryKind.PROMOTION) == [("REFUSED", "path2prod")]
    [alert] = stg.alerts.read()
    assert "approvals not on record" in alert.subject
    assert stg.requests.awaiting_promotion("stg") == []


def test_a_request_approved_by_quorum_in_the_ledger_is_pushed(stg: Stg, pending: ApprovalRequest) -> None:
    # GIVEN bob's approval, recorded in the ledger with the request
    _approve(stg, pending)
    stg.clock.advance(timedelta(minutes=1))

    # WHEN the promoter gets its "Promotion Approved"
    result = stg.promote(stg.approved(pending))

    # THEN the commit is pushed
    assert result == {"request_id": pending.id, "promotion": "PUSHED"}
    assert stg.stg.main == pending.commit
    assert stg.request(pending.id).upstream.account == DEV_ACCOUNT

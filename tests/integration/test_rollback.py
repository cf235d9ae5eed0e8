"""The rollback function in-process: moto for DynamoDB and SNS, and a real bare git repo as prd's repo.

Each test builds prd's own world: a ledger table from template.yaml, a bare repository whose `main` the
handler moves with dulwich (checked afterwards with the git CLI), and an SNS topic whose alerts an SQS
queue collects as the mails people would get. The handler is fed the domain events the recorder
publishes (`domain_event_for` of the entries it appended), wrapped as EventBridge delivers them.
"""

from __future__ import annotations

import copy
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from path2prod.adapters.alerts import AlertTopic
from path2prod.adapters.env_repo import EnvRepository
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.adapters.pipelines import PipelineExecutions
from path2prod.domain.chain_verify import verify
from path2prod.domain.errors import InvalidEvent
from path2prod.domain.event_fields import ThisStack
from path2prod.domain.ledger import (
    DEPLOYMENT_FAILED,
    DEPLOYMENT_SUCCEEDED,
    DOMAIN_EVENT_SOURCE,
    LedgerEntry,
    domain_event_for,
)
from path2prod.domain.rollback import Verdict
from path2prod.domain.vocabulary import EntryKind
from path2prod.rollback.errors import NotRollbackable, RollbackPushFailed
from path2prod.rollback.manual import manual_rollback
from path2prod.rollback.ports import Rollbacks
from path2prod.rollback.service import MAX_PUSH_ATTEMPTS
from tests.support.entries import ledger_entry
from tests.support.git import Repo, git, make_repo
from tests.support.handlers import function_module
from tests.support.inbox import Mailbox, subscribed_mailbox
from tests.support.lambda_context import LambdaContext

REGION = "eu-west-1"  # the `aws` fixture's
ENV = "prd"
ACCOUNT = "333333333333"
PIPELINE = "path2prod-app"


def make_mailbox() -> tuple[str, Mailbox]:
    """The env's alerts topic, and a mailbox subscribed to it."""
    sns = boto3.client("sns", region_name=REGION)
    topic_arn = sns.create_topic(Name=f"path2prod-{ENV}-alerts")["TopicArn"]
    return topic_arn, subscribed_mailbox(sns, boto3.client("sqs", region_name=REGION), topic_arn)


PRD_CONTEXT = LambdaContext("path2prod-prd-RollbackFunction", account=ACCOUNT, region=REGION)


def execution(label: str) -> str:
    """A CodePipeline execution id (a UUID, as AWS's are), the same for the same label."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"execution-{label}"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Prd:
    """prd's account as the rollback function sees it, and the handler to feed events to."""

    ledger: LedgerTable
    repo: Repo
    mailbox: Mailbox
    topic_arn: str
    app: ModuleType
    tmp_path: Path

    def deployed(self, commit: str, state: str, execution_id: str, time: str | None = None) -> LedgerEntry:
        """What the recorder appends for one execution of prd's pipeline ending in `state`."""
        time = time or _now()
        entry = ledger_entry(
            env=ENV,
            commit=commit,
            state=state,
            execution_id=execution_id,
            pipeline=PIPELINE,
            time=time,
            start_time=time[:19] + ".000Z",
            account=ACCOUNT,
            region=REGION,
        )
        assert self.ledger.append_entry(entry, remember_commit=True)
        return entry

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.app.handler(copy.deepcopy(event), PRD_CONTEXT)
        return result

    def rollback_entries(self) -> list[LedgerEntry]:
        return [
            entry for entry in self.ledger.history(ENV, oldest_first=True) if entry.kind == EntryKind.ROLLBACK
        ]

    def rollbacks(self) -> Rollbacks:
        """The service's wiring, as the CLI builds it for a manual rollback."""
        return Rollbacks(
            stack=ThisStack(env=ENV, account=ACCOUNT, region=REGION, pipeline=PIPELINE),
            ledger=self.ledger,
            repository=EnvRepository(str(self.repo.bare), cache_dir=self.tmp_path / "cli-cache"),
            alerts=AlertTopic(self.topic_arn, boto3.client("sns", region_name=REGION)),
            auto_rollback=True,
            pipelines=PipelineExecutions(boto3.client("codepipeline", region_name=REGION)),
        )

    def assert_chain_intact(self) -> None:
        report = verify(self.ledger.chain_items(), self.ledger.chain_head())
        assert report.intact, report


def domain_event(entry: LedgerEntry) -> dict[str, Any]:
    """The EventBridge event the recorder publishes for a terminal entry."""
    published = domain_event_for(entry)
    assert published is not None
    detail_type, detail = published
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": DOMAIN_EVENT_SOURCE,
        "account": ACCOUNT,
        "time": entry.time,
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


@pytest.fixture
def prd(ledger: LedgerTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Prd]:
    """An empty prd: ledger (moto, from template.yaml), env repo, alerts topic with a mailbox; automatic
    rollback on."""
    repo = make_repo(tmp_path, "prd")
    topic_arn, mailbox = make_mailbox()
    for name, value in {
        "PATH2PROD_ENV": ENV,
        "ACCOUNT_ID": ACCOUNT,
        "PIPELINE_NAME": PIPELINE,
        "LEDGER_TABLE": ledger.table_name,
        "REPOSITORY_URL": str(repo.bare),
        "ALERTS_TOPIC_ARN": topic_arn,
        "AUTO_ROLLBACK": "true",
        # template.yaml's defaults: a 30-minute bake time, no alarms named (test_bake_alarms names one).
        "BAKE_MINUTES": "30",
        "BAKE_ALARM_NAMES": "",
        "POWERTOOLS_SERVICE_NAME": "rollback",
    }.items():
        monkeypatch.setenv(name, value)
    # The handler's fetch cache lives in the temp dir (Lambda's /tmp): keep it inside this test's.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    app = function_module("rollback")
    app.rollbacks.cache_clear()
    yield Prd(ledger, repo, mailbox, topic_arn, app, tmp_path)
    app.rollbacks.cache_clear()


@pytest.fixture
def good_then_broken(prd: Prd) -> tuple[str, str, LedgerEntry]:
    """G SUCCEEDED in prd, then B (on top of it) FAILED; main names B. Returns G, B and B's entry."""
    good = prd.repo.commit("G: works")
    prd.repo.push_main(good)
    prd.deployed(good, "SUCCEEDED", execution("g"), "2025-03-01T10:00:00Z")
    broken = prd.repo.commit("B: breaks prd")
    prd.repo.push_main(broken)
    failed = prd.deployed(broken, "FAILED", execution("b"), "2025-03-02T10:00:00Z")
    return good, broken, failed


# --- the automatic rollback ----------------------------------------------------------------------


def test_a_failed_deployment_rolls_main_back_to_the_last_good_commit_until_it_runs_again(
    prd: Prd, load_event: Callable[[str], dict[str, Any]]
) -> None:
    # GIVEN G SUCCEEDED in prd, then B FAILED there (the execution of the sample event); main is B
    good = prd.repo.commit("G: works")
    prd.repo.push_main(good)
    prd.deployed(good, "SUCCEEDED", execution("g"), "2024-05-14T08:00:00Z")
    broken = prd.repo.commit("B: breaks prd")
    prd.repo.push_main(broken)
    failed_event = load_event("deployment-failed")
    failure = failed_event["detail"]
    prd.deployed(broken, "FAILED", failure["execution_id"], failure["time"])
    failed_event["detail"]["commit"] = broken

    # WHEN the "Deployment Failed" event of B arrives
    result = prd.invoke(failed_event)

    # THEN main is G again, a rollback entry from B to G is STARTED, and people got one mail
    assert result == {"verdict": Verdict.ROLL_BACK.value, "target": good}
    assert prd.repo.main == good
    [started] = prd.rollback_entries()
    assert (started.state, started.commit, started.from_commit) == ("STARTED", good, broken)
    assert (started.trigger, started.execution_id, started.pipeline) == (
        "automatic",
        failure["execution_id"],
        PIPELINE,
    )
    [mail] = prd.mailbox.read()
    assert "rolled back" in mail.subject
    assert f"Deployment of {broken} FAILED in prd" in mail.body
    assert f"Now deploying: {good}" in mail.body
    assert "path2prod ledger history prd" in mail.body
    assert prd.ledger.rollback_lock() is not None

    # WHEN G's deployment (the sample "Deployment Succeeded" execution) succeeds
    succeeded_event = load_event("deployment-succeeded")
    redeploy = succeeded_event["detail"]
    prd.deployed(good, "SUCCEEDED", redeploy["execution_id"], _now())
    succeeded_event["detail"]["commit"] = good
    completed = prd.invoke(succeeded_event)

    # THEN the rollback is SUCCEEDED in the ledger, the lock is released and people hear it is done
    assert completed == {"rollback_completed": True}
    assert [(e.state, e.commit, e.from_commit) for e in prd.rollback_entries()] == [
        ("STARTED", good, broken),
        ("SUCCEEDED", good, broken),
    ]
    assert prd.rollback_entries()[1].execution_id == failure["execution_id"]
    assert prd.ledger.rollback_lock() is None
    [done] = prd.mailbox.read()
    assert "rollback done" in done.subject
    assert prd.repo.main == good
    prd.assert_chain_intact()


def test_a_success_of_another_commit_does_not_end_the_rollback(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN a rollback from B to G in flight
    good, broken, failed = good_then_broken
    prd.invoke(domain_event(failed))
    prd.mailbox.read()

    # WHEN a "Deployment Succeeded" of B arrives (some late, unrelated execution)
    result = prd.invoke(domain_event(prd.deployed(broken, "SUCCEEDED", execution("b-late"))))

    # THEN the rollback is still in flight: no entry, no mail, lock kept
    assert result == {"rollback_completed": False}
    assert [e.state for e in prd.rollback_entries()] == ["STARTED"]
    assert prd.mailbox.read() == []
    lock = prd.ledger.rollback_lock()
    assert lock is not None and lock.target == good
    prd.assert_chain_intact()


# --- claims the ledger does not confirm ---------------------------------------------------------------


def _forged(entry: LedgerEntry, **detail: Any) -> dict[str, Any]:
    """The event of `entry` with some of its detail changed: what someone allowed to put events on
    prd's bus (or a bug) could send."""
    event = domain_event(entry)
    event["detail"].update(detail)
    return event


@pytest.mark.parametrize(
    ("change", "names"),
    [
        pytest.param(
            {"execution_id": "4b1c6f0e-2d8a-4f3e-9a51-7c2e8d9b0a13"}, "detail.execution_id", id="made-up"
        ),
        pytest.param({"attempt": 2}, "detail.execution_id", id="other-attempt"),
        pytest.param({"env": "stg"}, "detail.env", id="other-env"),
        pytest.param({"account": "999999999999"}, "detail.account", id="other-account"),
        pytest.param({"pipeline": "other-app"}, "detail.pipeline", id="other-pipeline"),
        pytest.param({"state": "SUCCEEDED"}, "detail.state", id="succeeded-state"),
        pytest.param({"commit": "<script>x</script>"}, "detail.commit", id="not-a-commit"),
        pytest.param({"time": "9999-01-01T00:00:00Z"}, "detail.time", id="year-9999"),
    ],
)
def test_a_failure_the_ledger_does_not_confirm_is_refused_and_nothing_moves(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry], change: dict[str, Any], names: str
) -> None:
    # GIVEN B FAILED in prd (main names B); a "Deployment Failed" that differs from the ledger's record
    _good, broken, failed = good_then_broken
    before = prd.ledger.chain_head()

    # WHEN it arrives / THEN InvalidEvent names the field, main is B, nothing is written or mailed
    with pytest.raises(InvalidEvent, match=f"^{names}: "):
        prd.invoke(_forged(failed, **change))
    assert prd.repo.main == broken
    assert prd.ledger.chain_head() == before
    assert prd.ledger.rollback_lock() is None
    assert prd.mailbox.read() == []


def test_a_failure_naming_a_real_succeeded_execution_is_refused(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN G SUCCEEDED and then B, on main, SUCCEEDED too (its second execution)
    good, broken, _failed = good_then_broken
    passed = prd.deployed(broken, "SUCCEEDED", execution("b-passed"))
    before = prd.ledger.chain_head()

    # WHEN a "Deployment Failed" names B's real SUCCEEDED execution
    forged = _forged(passed, state="FAILED")
    forged["detail-type"] = DEPLOYMENT_FAILED
    with pytest.raises(InvalidEvent, match="does not confirm"):
        prd.invoke(forged)

    # THEN nothing was rolled back
    assert prd.repo.main == broken
    assert prd.ledger.chain_head() == before
    assert not prd.rollback_entries()
    assert good != broken


def test_a_replayed_old_success_of_the_target_does_not_end_the_rollback(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN a rollback from B to G in flight
    good, _broken, failed = good_then_broken
    prd.invoke(domain_event(failed))
    [old_success] = [e for e in prd.ledger.commit_entries(good) if e.kind == "deployment"]

    # WHEN G's old "Deployment Succeeded" (before the rollback began) is delivered again
    result = prd.invoke(domain_event(old_success))

    # THEN the rollback is still in flight: G's redeployment has not succeeded yet
    assert result == {"rollback_completed": False}
    assert [e.state for e in prd.rollback_entries()] == ["STARTED"]
    assert prd.ledger.rollback_lock() is not None


def test_a_failure_delivered_three_times_rolls_back_once(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN B's failure, and its event
    good, _broken, failed = good_then_broken
    event = domain_event(failed)

    # WHEN EventBridge delivers it three times
    results = [prd.invoke(event)]
    moved_once = prd.repo.main_ref_version()
    results += [prd.invoke(event), prd.invoke(event)]

    # THEN main moved once, to G; one STARTED entry; one mail
    assert results == [{"verdict": Verdict.ROLL_BACK.value, "target": good}] * 3
    assert prd.repo.main == good
    assert prd.repo.main_ref_version() == moved_once
    assert [e.state for e in prd.rollback_entries()] == ["STARTED"]
    assert len(prd.mailbox.read()) == 1
    prd.assert_chain_intact()


def test_a_duplicate_arriving_after_the_rollback_finished_changes_nothing(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN B was rolled back to G, and G's deployment SUCCEEDED (the lock is released)
    good, _broken, failed = good_then_broken
    event = domain_event(failed)
    prd.invoke(event)
    prd.invoke(domain_event(prd.deployed(good, "SUCCEEDED", execution("g2"))))
    entries_before = prd.rollback_entries()
    prd.mailbox.read()

    # WHEN a late duplicate of B's failure arrives
    result = prd.invoke(event)

    # THEN nothing changes: this failure was decided already
    assert result == {"verdict": Verdict.ROLL_BACK.value, "target": good}
    assert prd.rollback_entries() == entries_before
    assert prd.mailbox.read() == []
    assert prd.repo.main == good
    assert prd.ledger.rollback_lock() is None
    prd.assert_chain_intact()


def test_a_failed_rollback_is_not_rolled_back(prd: Prd) -> None:
    # GIVEN A and G SUCCEEDED in prd, B FAILED, and the rollback to G is in flight
    older = prd.repo.commit("A: works too")
    prd.repo.push_main(older)
    prd.deployed(older, "SUCCEEDED", execution("a"), "2025-03-01T09:00:00Z")
    good = prd.repo.commit("G: works")
    prd.repo.push_main(good)
    prd.deployed(good, "SUCCEEDED", execution("g"), "2025-03-01T10:00:00Z")
    broken = prd.repo.commit("B: breaks prd")
    prd.repo.push_main(broken)
    prd.invoke(domain_event(prd.deployed(broken, "FAILED", execution("b"), "2025-03-02T10:00:00Z")))
    assert prd.repo.main == good
    rolled_back = prd.repo.main_ref_version()
    prd.mailbox.read()

    # WHEN the rollback's own deployment of G FAILS (prd is broken whatever runs)
    g_failed = domain_event(prd.deployed(good, "FAILED", execution("g2")))
    result = prd.invoke(g_failed)

    # THEN no push (main stays G), a REFUSED entry, the rollback from B ends FAILED, one "manual action
    # needed" mail, lock released
    assert result == {"verdict": Verdict.FAILED_ROLLBACK.value, "target": None}
    assert prd.repo.main == good
    assert prd.repo.main_ref_version() == rolled_back
    [refused] = [e for e in prd.rollback_entries() if e.state == "REFUSED"]
    assert (refused.state, refused.commit, refused.execution_id) == ("REFUSED", good, execution("g2"))
    ended = [
        (e.state, e.commit, e.from_commit) for e in prd.rollback_entries() if e.execution_id == execution("b")
    ]
    assert ended == [("STARTED", good, broken), ("FAILED", good, broken)]
    assert refused.reason == Verdict.FAILED_ROLLBACK.value
    [mail] = prd.mailbox.read()
    assert "manual action needed" in mail.body
    assert "Nothing is being redeployed." in mail.body
    assert prd.ledger.rollback_lock() is None

    # WHEN that failure is delivered again (the lock is gone, and A is an older good commit)
    entries = prd.rollback_entries()
    again = prd.invoke(g_failed)

    # THEN still nothing more: no rollback to A, no entry, no mail
    assert again == result
    assert prd.repo.main == good
    assert prd.repo.main_ref_version() == rolled_back
    assert prd.rollback_entries() == entries
    assert prd.mailbox.read() == []
    prd.assert_chain_intact()


def test_another_failure_while_a_rollback_is_in_flight_is_refused(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN the rollback from B to G is in flight
    good, broken, failed = good_then_broken
    prd.invoke(domain_event(failed))
    prd.mailbox.read()

    # WHEN a late failure of another execution of B arrives
    result = prd.invoke(domain_event(prd.deployed(broken, "FAILED", execution("b-again"))))

    # THEN it is refused as in flight; the first rollback keeps its lock and main stays G
    assert result["verdict"] == Verdict.IN_FLIGHT.value
    assert prd.repo.main == good
    assert prd.rollback_entries()[-1].reason == Verdict.IN_FLIGHT.value
    assert len(prd.mailbox.read()) == 1
    lock = prd.ledger.rollback_lock()
    assert lock is not None and lock.holder == execution("b")
    prd.assert_chain_intact()


def test_a_superseded_failure_is_not_rolled_back(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN B failed, but main already names a newer commit C (a fix was promoted meanwhile)
    _good, broken, failed = good_then_broken
    fixed = prd.repo.commit("C: fixes B")
    prd.repo.push_main(fixed)

    # WHEN B's failure arrives
    result = prd.invoke(domain_event(failed))

    # THEN C stays on main; a REFUSED entry and a mail say why
    assert result == {"verdict": Verdict.SUPERSEDED.value, "target": None}
    assert prd.repo.main == fixed
    [refused] = prd.rollback_entries()
    assert (refused.state, refused.commit, refused.from_commit) == ("REFUSED", broken, broken)
    assert refused.reason == Verdict.SUPERSEDED.value
    [mail] = prd.mailbox.read()
    assert "superseded" in mail.body
    assert prd.ledger.rollback_lock() is None
    prd.assert_chain_intact()


def test_without_an_earlier_good_commit_nothing_is_pushed(prd: Prd) -> None:
    # GIVEN only B ever SUCCEEDED in prd (an earlier run), and now B FAILED; main is B
    broken = prd.repo.commit("B: breaks prd")
    prd.repo.push_main(broken)
    prd.deployed(broken, "SUCCEEDED", execution("b1"), "2025-03-01T10:00:00Z")
    failed = prd.deployed(broken, "FAILED", execution("b2"), "2025-03-02T10:00:00Z")
    untouched = prd.repo.main_ref_version()

    # WHEN B's failure arrives
    result = prd.invoke(domain_event(failed))

    # THEN no push, a REFUSED entry, and a mail asking for people
    assert result == {"verdict": Verdict.NO_GOOD_COMMIT.value, "target": None}
    assert prd.repo.main == broken
    assert prd.repo.main_ref_version() == untouched
    [refused] = prd.rollback_entries()
    assert (refused.state, refused.reason) == ("REFUSED", Verdict.NO_GOOD_COMMIT.value)
    [mail] = prd.mailbox.read()
    assert "manual action needed" in mail.body
    prd.assert_chain_intact()


def test_with_automatic_rollback_off_nothing_happens(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN prd's stack switched automatic rollback off
    monkeypatch.setenv("AUTO_ROLLBACK", "false")
    prd.app.rollbacks.cache_clear()
    _good, broken, failed = good_then_broken
    chain_before = prd.ledger.chain_head()

    # WHEN B's failure arrives
    result = prd.invoke(domain_event(failed))

    # THEN nothing is recorded, nobody is mailed, nothing is pushed
    assert result == {"verdict": Verdict.DISABLED.value, "target": None}
    assert prd.repo.main == broken
    assert prd.rollback_entries() == []
    assert prd.ledger.chain_head() == chain_before
    assert prd.mailbox.read() == []
    assert prd.ledger.rollback_lock() is None


# --- a push that fails -----------------------------------------------------------------------------


def _lock_main(prd: Prd) -> None:
    # A concurrent push holds main's lock file: the remote cannot update the ref (git: "cannot lock ref").
    (prd.repo.bare / "refs" / "heads" / "main.lock").write_text("")


def _remove_repo_after_main_is_read(prd: Prd, monkeypatch: pytest.MonkeyPatch) -> None:
    # The repository disappears between reading main and pushing (deleted, or its volume unmounted).
    read_main = EnvRepository.main_head

    def main_head_then_vanish(self: EnvRepository) -> str | None:
        head = read_main(self)
        prd.repo.bare.rename(prd.repo.bare.with_name("prd-moved.git"))
        return head

    monkeypatch.setattr(EnvRepository, "main_head", main_head_then_vanish)


# A try that raises has added no metric; Powertools warns about that, which is expected here.
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize("breakage", ["main is locked", "the repository is gone"])
def test_a_push_that_fails_is_retried_then_alerted(
    prd: Prd,
    good_then_broken: tuple[str, str, LedgerEntry],
    monkeypatch: pytest.MonkeyPatch,
    breakage: str,
) -> None:
    # GIVEN B failed and prd's repository cannot take the rollback's push
    good, broken, failed = good_then_broken
    bare = prd.repo.bare
    if breakage == "main is locked":
        _lock_main(prd)
    else:
        _remove_repo_after_main_is_read(prd, monkeypatch)
        bare = bare.with_name("prd-moved.git")
    event = domain_event(failed)

    # WHEN EventBridge delivers the event, retrying while the handler raises
    for _ in range(MAX_PUSH_ATTEMPTS - 1):
        with pytest.raises(RollbackPushFailed):
            prd.invoke(event)
        # THEN each failed try is retried silently, main still B
        assert prd.mailbox.read() == []
    last = prd.invoke(event)

    # THEN the last try gives up: a FAILED entry, a "could not push" mail, the lock released
    assert last == {"verdict": Verdict.FAILED_ROLLBACK.value, "target": good}
    assert git("--git-dir", str(bare), "rev-parse", "refs/heads/main") == broken
    assert [e.state for e in prd.rollback_entries()] == ["STARTED", "FAILED"]
    gave_up = prd.rollback_entries()[-1]
    assert (gave_up.commit, gave_up.from_commit, gave_up.execution_id) == (good, broken, execution("b"))
    assert gave_up.reason and ("cannot lock" if breakage == "main is locked" else "no git repository") in (
        gave_up.reason.lower()
    )
    [mail] = prd.mailbox.read()
    assert "could not push" in mail.subject
    assert f"The push failed {MAX_PUSH_ATTEMPTS} times" in mail.body
    assert prd.ledger.rollback_lock() is None

    # WHEN yet another copy of the event arrives, THEN it starts no new round of tries
    assert prd.invoke(event) == last
    assert [e.state for e in prd.rollback_entries()] == ["STARTED", "FAILED"]
    assert prd.mailbox.read() == []
    assert prd.ledger.rollback_lock() is None
    prd.assert_chain_intact()


# --- the manual rollback -------------------------------------------------------------------------


@pytest.mark.parametrize("what", ["a commit that only FAILED", "a commit never deployed"])
def test_a_manual_rollback_to_a_commit_that_never_succeeded_changes_nothing(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry], what: str
) -> None:
    # GIVEN G SUCCEEDED and B FAILED in prd; main is G again after someone's push
    good, broken, _failed = good_then_broken
    prd.repo.push_main(good)
    never = prd.repo.commit("D: never deployed")
    target = broken if what == "a commit that only FAILED" else never
    chain_before = list(prd.ledger.chain_items())

    # WHEN someone asks to roll back to it, THEN it is refused with a one-line reason
    with pytest.raises(NotRollbackable) as refused:
        manual_rollback(
            prd.rollbacks(), to=target, trigger="alice@example.com", reason="try", pipeline=PIPELINE
        )
    assert "\n" not in str(refused.value) and target in str(refused.value)

    # THEN nothing changed: main, ledger, mails
    assert prd.repo.main == good
    assert list(prd.ledger.chain_items()) == chain_before
    assert prd.mailbox.read() == []


def test_a_manual_rollback_without_a_target_brings_back_the_last_good_commit_but_the_current(
    prd: Prd,
) -> None:
    # GIVEN A then G SUCCEEDED in prd, and G is what main names
    older = prd.repo.commit("A: works")
    prd.repo.push_main(older)
    prd.deployed(older, "SUCCEEDED", execution("a"), "2025-03-01T09:00:00Z")
    good = prd.repo.commit("G: works, people dislike it")
    prd.repo.push_main(good)
    prd.deployed(good, "SUCCEEDED", execution("g"), "2025-03-01T10:00:00Z")

    # WHEN Alice rolls prd back without naming a commit
    entry = manual_rollback(
        prd.rollbacks(), to=None, trigger="alice@example.com", reason="slow checkout", pipeline=PIPELINE
    ).entry

    # THEN main is A, and the ledger says who did it, from what, and why
    assert prd.repo.main == older
    [recorded] = prd.rollback_entries()
    assert recorded.content == entry.content
    assert (recorded.state, recorded.commit, recorded.from_commit) == ("STARTED", older, good)
    assert (recorded.trigger, recorded.reason, recorded.pipeline) == (
        "alice@example.com",
        "slow checkout",
        PIPELINE,
    )
    [mail] = prd.mailbox.read()
    assert "alice@example.com rolled back" in mail.subject
    assert "slow checkout" in mail.body
    prd.assert_chain_intact()


def test_a_manual_rollback_to_a_named_good_commit(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN G SUCCEEDED, B FAILED and automatic rollback did not run; main is B
    good, broken, _failed = good_then_broken

    # WHEN Bob rolls back to G by its sha
    manual_rollback(prd.rollbacks(), to=good, trigger="bob@example.com", reason=None, pipeline=PIPELINE)

    # THEN main is G, the entry names Bob, and the rollback holds the env's lock until G deploys again
    # (so the loop guard covers a manual rollback too)
    assert prd.repo.main == good
    [recorded] = prd.rollback_entries()
    assert (recorded.commit, recorded.from_commit, recorded.trigger) == (good, broken, "bob@example.com")
    assert len(prd.mailbox.read()) == 1
    lock = prd.ledger.rollback_lock()
    assert lock is not None and lock.target == good and str(lock.holder).startswith("manual-")
    prd.assert_chain_intact()


def test_the_sample_events_are_the_recorders_domain_events(
    load_event: Callable[[str], dict[str, Any]],
) -> None:
    # GIVEN the entries the sample events describe
    # WHEN the recorder publishes them, THEN the samples have the very same detail-type and detail
    for name, detail_type in (
        ("deployment-failed", DEPLOYMENT_FAILED),
        ("deployment-succeeded", DEPLOYMENT_SUCCEEDED),
    ):
        sample = load_event(name)
        detail = sample["detail"]
        entry = ledger_entry(
            env=detail["env"],
            commit=detail["commit"],
            state=detail["state"],
            execution_id=detail["execution_id"],
            pipeline=detail["pipeline"],
            attempt=detail["attempt"],
            time=detail["time"],
            account=detail["account"],
            region=detail["region"],
        )
        assert domain_event_for(entry) == (detail_type, detail)
        assert (sample["source"], sample["account"], detail["env"]) == (DOMAIN_EVENT_SOURCE, ACCOUNT, ENV)


def test_a_failure_after_a_rollback_whose_success_was_never_heard_ends_that_rollback_and_rolls_back(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN the rollback from B to G, whose G deployment SUCCEEDED in the ledger, but whose "Deployment
    # Succeeded" never reached the rollback function (lost, or parked): its lock is still held
    good, broken, failed = good_then_broken
    prd.invoke(domain_event(failed))
    prd.mailbox.read()
    prd.deployed(good, "SUCCEEDED", execution("g-again"), _now())
    assert prd.ledger.rollback_lock() is not None

    # WHEN another commit fails in prd
    worse = prd.repo.commit("W: breaks prd too")
    prd.repo.push_main(worse)
    result = prd.invoke(domain_event(prd.deployed(worse, "FAILED", execution("w"))))

    # THEN the first rollback is ended SUCCEEDED as its lost event would have, and W is rolled back to G:
    # not refused as "another rollback is in flight"
    assert result == {"verdict": Verdict.ROLL_BACK.value, "target": good}
    assert [(e.state, e.from_commit) for e in prd.rollback_entries()] == [
        ("STARTED", broken),
        ("SUCCEEDED", broken),
        ("STARTED", worse),
    ]
    assert prd.repo.main == good
    lock = prd.ledger.rollback_lock()
    assert lock is not None and lock.holder == execution("w")
    prd.assert_chain_intact()


def test_a_failure_refused_while_another_rollback_was_in_flight_is_decided_once_that_one_ended(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN the rollback from B to G in flight, and W failed meanwhile, its execution started before the
    # rollback took its lock (so not pushed over it) while main names W: refused, in flight
    good, broken, failed = good_then_broken
    earlier = (datetime.now(UTC) - timedelta(seconds=2)).isoformat(timespec="seconds").replace("+00:00", "Z")
    prd.invoke(domain_event(failed))
    worse = prd.repo.commit("W: breaks prd too")
    prd.repo.push_main(worse)
    worse_failed = prd.deployed(worse, "FAILED", execution("w"), earlier)
    assert prd.invoke(domain_event(worse_failed))["verdict"] == Verdict.IN_FLIGHT.value

    # WHEN the first rollback ends (G deployed) and W's failure is announced again (the reconciler does)
    prd.invoke(domain_event(prd.deployed(good, "SUCCEEDED", execution("g-again"), _now())))
    result = prd.invoke(domain_event(worse_failed))

    # THEN W is rolled back now, once: a wait is not a decision
    assert result == {"verdict": Verdict.ROLL_BACK.value, "target": good}
    assert prd.repo.main == good
    assert [(e.state, e.from_commit or e.commit) for e in prd.rollback_entries()] == [
        ("STARTED", broken),
        ("REFUSED", worse),
        ("SUCCEEDED", broken),
        ("STARTED", worse),
    ]
    assert prd.invoke(domain_event(worse_failed)) == {"verdict": Verdict.ROLL_BACK.value, "target": good}
    assert len([e for e in prd.rollback_entries() if e.state == "STARTED"]) == 2
    prd.assert_chain_intact()


def test_a_commit_pushed_over_a_rollback_in_flight_that_fails_ends_it_and_is_rolled_back(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN the rollback from B to G in flight (main is G, its run not yet done)
    good, broken, failed = good_then_broken
    prd.invoke(domain_event(failed))
    prd.mailbox.read()

    # WHEN someone pushes W over it, whose execution (started seconds after the rollback) fails
    worse = prd.repo.commit("W: pushed over the rollback")
    prd.repo.push_main(worse)
    later = (datetime.now(UTC) + timedelta(seconds=2)).isoformat(timespec="seconds").replace("+00:00", "Z")
    result = prd.invoke(domain_event(prd.deployed(worse, "FAILED", execution("w-over"), later)))

    # THEN the superseded rollback ends ABANDONED, naming the push, and W is rolled back to G
    assert result == {"verdict": Verdict.ROLL_BACK.value, "target": good}
    assert [(e.state, e.from_commit) for e in prd.rollback_entries()] == [
        ("STARTED", broken),
        ("ABANDONED", broken),
        ("STARTED", worse),
    ]
    assert "superseded" in (prd.rollback_entries()[1].reason or "")
    assert prd.repo.main == good
    prd.assert_chain_intact()

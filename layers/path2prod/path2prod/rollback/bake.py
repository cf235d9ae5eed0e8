"""The bake watch's use case: one of the env's named alarms went to ALARM; roll back if it broke a bake.

The event ("CloudWatch Alarm State Change") is a claim: it must name one of this stack's alarms, in
its account and region, and CloudWatch (DescribeAlarms) must hold that alarm in ALARM now; otherwise it
raises InvalidEvent before anything is read from the ledger, written or pushed. Then the env's own
ledger decides (domain/bake.py): when the newest deployment that ended here SUCCEEDED less than the bake
time before the alarm's state changed, it is rolled back exactly as a failure is (service.py's
`on_deployment_failed`: same lock, loop guard and alerts, entries keyed by that execution, so a
duplicate alarm event changes nothing), its entries naming the alarm. Outside the bake time nothing is
recorded; a baking deployment that a rollback brought about is refused (REFUSED entry and alert).
"""

from __future__ import annotations

import logging
from typing import Any

from path2prod.domain import event_fields as fields
from path2prod.domain.bake import (
    ALARM,
    ALARM_STATE_CHANGE,
    BakeVerdict,
    alarm_trigger,
    judge_alarm,
    parse_alarm_state_change,
    rollback_reason,
)
from path2prod.domain.errors import InvalidEvent
from path2prod.domain.rollback import Failure, RollbackDecision, Verdict
from path2prod.domain.vocabulary import EntryKind
from path2prod.rollback.entries import Cause, now_text
from path2prod.rollback.ports import Rollbacks
from path2prod.rollback.service import OutcomeHandled, on_deployment_failed, refuse

log = logging.getLogger(__name__)

# How many of the baking commit's entries tell whether a rollback brought it (its latest ones).
_COMMIT_ENTRIES = 20


def on_alarm(event: Any, rollbacks: Rollbacks) -> OutcomeHandled:
    """Act on one of the env's bake alarms going to ALARM (see the module's docstring)."""
    claim = parse_alarm_state_change(event)
    stack = rollbacks.stack
    fields.equal(claim.account, stack.account, "account")
    fields.equal(claim.region, stack.region, "region")
    fields.one_of(claim.alarm, rollbacks.bake.alarms, "detail.alarmName")
    fields.equal(claim.state, ALARM, "detail.state.value")
    if not rollbacks.bake.on:
        # BakeMinutes=0: the rule is disabled and the role may describe no alarm; nothing can bake.
        log.info("alarm %s went to ALARM: no bake watch, nothing to roll back", claim.alarm)
        return OutcomeHandled(ALARM_STATE_CHANGE, bake=BakeVerdict.NO_WATCH, alarm=claim.alarm)
    if rollbacks.alarms is None:
        raise InvalidEvent("detail.alarmName", "this function reads no alarms: refused, nothing pushed")
    alarm = rollbacks.alarms.alarm(claim.alarm)
    if alarm is None:
        raise InvalidEvent(
            "detail.alarmName", f"CloudWatch has no alarm {claim.alarm!r} here: refused, nothing pushed"
        )
    if alarm.state != ALARM:
        raise InvalidEvent(
            "detail.state.value",
            f"CloudWatch holds alarm {claim.alarm!r} in {alarm.state}, not ALARM: refused, nothing pushed",
        )

    # When it went to ALARM, and why, are CloudWatch's word, not the event's.
    deployment = rollbacks.ledger.last_deployment_ended(rollbacks.env)
    commit_entries = (
        [
            entry
            for entry in rollbacks.ledger.commit_entries(deployment.commit, limit=_COMMIT_ENTRIES)
            if entry.kind in (EntryKind.DEPLOYMENT, EntryKind.ROLLBACK)
        ]
        if deployment is not None
        else []
    )
    verdict = judge_alarm(
        deployment, alarmed_at=alarm.since, watch=rollbacks.bake, commit_entries=commit_entries
    )
    handled = OutcomeHandled(ALARM_STATE_CHANGE, bake=verdict, alarm=claim.alarm)
    if deployment is None or verdict in (BakeVerdict.OUTSIDE, BakeVerdict.NO_WATCH):
        log.info(
            "alarm %s went to ALARM at %s: %s, nothing to roll back", claim.alarm, alarm.since, verdict.value
        )
        return handled

    baking = Failure(
        env=rollbacks.env,
        commit=deployment.commit,
        execution_id=deployment.execution_id,
        pipeline=deployment.pipeline,
        time=deployment.time,
    )
    cause = Cause(
        trigger=alarm_trigger(claim.alarm),
        reason=rollback_reason(claim.alarm, alarm.reason),
        headline=f"SUCCEEDED, but alarm {claim.alarm} went to ALARM during its bake time ({alarm.reason})",
    )
    if verdict is BakeVerdict.ROLLBACK_TARGET:
        refusal = RollbackDecision(Verdict.ALARMED_ROLLBACK)
        if rollbacks.auto_rollback:
            refuse(baking, refusal, rollbacks, now_text(), cause)
        return OutcomeHandled(ALARM_STATE_CHANGE, refusal, bake=verdict, alarm=claim.alarm)
    decision = on_deployment_failed(baking, rollbacks, cause)
    return OutcomeHandled(ALARM_STATE_CHANGE, decision, bake=verdict, alarm=claim.alarm)

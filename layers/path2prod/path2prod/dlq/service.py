"""The dead-letter tooling's use cases: list what is parked, show one, redrive some through their handler.

A message leaves the queue only when its handler succeeded with its event; whatever else happens (the
format is unknown, the function cannot be told, the handler raised, the sandbox is down) it stays parked
and the report says why. The recorder answers an event it refuses with {"result": "parked"} having
parked it again itself: the old copy is deleted and the event counts as kept, parked again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from path2prod.dlq.errors import RedriveUnavailable, UnknownParkedEvent
from path2prod.dlq.ports import HandlerInvoker, ParkedMessages
from path2prod.dlq.records import ParkedEvent, ParkedFormat, decode_message


def parked_events(queue: ParkedMessages) -> list[ParkedEvent]:
    """Every parked event, decoded, oldest first; the queue is left as it was."""
    messages = queue.hold_all()
    try:
        return _decoded(messages)
    finally:
        queue.release([m["ReceiptHandle"] for m in messages if "ReceiptHandle" in m])


def find(parked: Iterable[ParkedEvent], wanted: str) -> ParkedEvent:
    """The parked event whose id is `wanted` or starts with it (unique prefix); else UnknownParkedEvent."""
    listed = list(parked)
    exact = [p for p in listed if p.id == wanted]
    matches = exact or ([p for p in listed if p.id.startswith(wanted)] if wanted else [])
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UnknownParkedEvent(f"no parked event has id {wanted!r} ({len(listed)} parked)")
    raise UnknownParkedEvent(f"id {wanted!r} names {len(matches)} parked events; give more of it")


@dataclass(frozen=True)
class Redriven:
    """What became of one parked event: redriven (its handler succeeded, the message is deleted) or kept."""

    parked: ParkedEvent
    redriven: bool
    reason: str | None = None  # why it stays parked
    result: Any = None  # the handler's answer

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.parked.id,
            "format": str(self.parked.format),
            "function": self.parked.function,
            "redriven": self.redriven,
            "reason": self.reason,
            "result": self.result,
            "summary": self.parked.summary,
        }


@dataclass
class RedriveReport:
    outcomes: list[Redriven] = field(default_factory=list)

    @property
    def redriven(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.redriven)

    @property
    def kept(self) -> int:
        return len(self.outcomes) - self.redriven

    def as_dict(self) -> dict[str, Any]:
        return {
            "redriven": self.redriven,
            "kept": self.kept,
            "events": [outcome.as_dict() for outcome in self.outcomes],
        }


def redrive(
    queue: ParkedMessages,
    invoker: HandlerInvoker,
    ids: Iterable[str] | None,
    *,
    progress: Callable[[Redriven, int, int], None] = lambda *_: None,
) -> RedriveReport:
    """Run each chosen parked event (`ids`: ids or unique prefixes; None: all) through the handler it was
    meant for, once; delete it only when the handler succeeded. UnknownParkedEvent, before anything is
    run, when an id names none."""
    messages = queue.hold_all()
    held = [m["ReceiptHandle"] for m in messages if "ReceiptHandle" in m]
    done: set[str] = set()
    try:
        parked = _decoded(messages)
        chosen = parked if ids is None else list({p.id: p for p in (find(parked, i) for i in ids)}.values())
        report = RedriveReport()
        for number, event in enumerate(chosen, start=1):
            outcome = _redrive_one(event, invoker)
            if outcome.redriven or _parked_again(outcome.result):
                queue.delete(event.receipt_handle or "")
                done.add(event.receipt_handle or "")
            report.outcomes.append(outcome)
            progress(outcome, number, len(chosen))
        return report
    finally:
        queue.release([handle for handle in held if handle not in done])


def _redrive_one(parked: ParkedEvent, invoker: HandlerInvoker) -> Redriven:
    if parked.format is ParkedFormat.UNKNOWN:
        return Redriven(parked, False, parked.reason)
    if parked.function is None and parked.function_name is None:
        return Redriven(parked, False, "the function it was meant for cannot be told")
    try:
        invocation = invoker.invoke(parked.function or "", parked.function_name, parked.event)
    except RedriveUnavailable as error:
        return Redriven(parked, False, str(error))
    if not invocation.ok:
        return Redriven(parked, False, invocation.error, invocation.result)
    if _parked_again(invocation.result):
        reason = invocation.result.get("reason") or "refused"
        again = invocation.result.get("parked_as")
        where = f" as {str(again)[:12]}" if again else ""
        return Redriven(parked, False, f"refused again, parked again{where}: {reason}", invocation.result)
    return Redriven(parked, True, None, invocation.result)


def _parked_again(result: Any) -> bool:
    """The handler refused the event and parked it itself (the recorder with DEAD_LETTER_QUEUE_URL)."""
    return isinstance(result, dict) and result.get("result") == "parked"


def _decoded(messages: list[dict[str, Any]]) -> list[ParkedEvent]:
    decoded = [decode_message(message) for message in messages]
    return sorted(decoded, key=lambda p: (p.parked_at or "", p.id))

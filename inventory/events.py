"""The kinds of unit event and what each one's payload holds: one function per kind builds it, so a payload's shape
is defined in one place (as Saleor's order/events.py). Services hand the result to `unit_transition` (a move) or
`unit_event_record` (a decision that leaves the state as it is), in the transaction that makes the change; no caller
writes an event's kind or payload by hand. Payloads hold ids and facts, never objects, and say nothing a reason
sentence does not already say in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .choices import EventKind


@dataclass(frozen=True)
class EventFacts:
    kind: str
    payload: dict = field(default_factory=dict)


def received(*, lot: str, line: int, source: str, cosmetic_grade: str = "") -> EventFacts:
    """Taken in from an intake sheet: its lot, the sheet's line and source, and the cosmetic grade written there."""
    payload = {"lot": lot, "line": line, "source": source}
    if cosmetic_grade:
        payload["cosmetic_grade"] = cosmetic_grade
    return EventFacts(EventKind.RECEIVED, payload)


def moved(*, note: dict | None = None) -> EventFacts:
    """A person moved the card (the API, the admin); `note`: any JSON object they keep with it."""
    return EventFacts(EventKind.TRANSITION, dict(note or {}))


def inspected(*, inspection_id: int, cosmetic_grade: str, fan_condition: str, pcie_connector_damage: bool,
              bracket_present: bool, photos: int) -> EventFacts:
    return EventFacts(EventKind.INSPECTED, {
        "inspection": inspection_id, "cosmetic_grade": cosmetic_grade, "fan_condition": fan_condition,
        "pcie_connector_damage": pcie_connector_damage, "bracket_present": bracket_present, "photos": photos})


def run_queued(*, run_id: int, plan: str) -> EventFacts:
    return EventFacts(EventKind.RUN_QUEUED, {"run": run_id, "plan": plan})


def run_started(*, run_id: int) -> EventFacts:
    return EventFacts(EventKind.RUN_STARTED, {"run": run_id})


def run_finished(*, run_id: int, verdict: str, checks: dict[str, str]) -> EventFacts:
    """`checks`: each check's status, by name."""
    return EventFacts(EventKind.RUN_FINISHED, {"run": run_id, "verdict": verdict, "checks": dict(checks)})


def run_ended(*, run_id: int, state: str) -> EventFacts:
    """A run that did not finish: cancelled or interrupted (`state`)."""
    return EventFacts(EventKind.RUN_ENDED, {"run": run_id, "state": state})


def grade_recorded(*, grade_id: int, run_id: int, functional: str, codes: list[str],
                   slot_id: int | None = None) -> EventFacts:
    """Grading's decision, whether or not it moves the card (a failed card graded FAIL stays failed). `slot_id`:
    the slot a finding may blame, when the card goes back to be retested in another one."""
    payload = {"grade": grade_id, "run": run_id, "functional": functional, "codes": list(codes)}
    if slot_id is not None:
        payload["slot"] = slot_id
    return EventFacts(EventKind.GRADE_RECORDED, payload)


def grade_overridden(*, grade_id: int, overrides_id: int, from_grade: str, to_grade: str) -> EventFacts:
    return EventFacts(EventKind.GRADE_OVERRIDE, {"grade": grade_id, "overrides": overrides_id, "from": from_grade,
                                                 "to": to_grade})


def certificate_issued(*, certificate_id: str, grade_id: int, key_id: str) -> EventFacts:
    return EventFacts(EventKind.CERTIFICATE_ISSUED, {"certificate": certificate_id, "grade": grade_id,
                                                     "key_id": key_id})


def certificate_revoked(*, certificate_id: str) -> EventFacts:
    return EventFacts(EventKind.CERTIFICATE_REVOKED, {"certificate": certificate_id})


def certificate_superseded(*, certificate_id: str) -> EventFacts:
    return EventFacts(EventKind.CERTIFICATE_SUPERSEDED, {"certificate": certificate_id})


def listing_published(*, listing_id: int, channel: str) -> EventFacts:
    return EventFacts(EventKind.LISTING_PUBLISHED, {"listing": listing_id, "channel": channel})


def listing_withdrawn(*, listing_id: int, channel: str) -> EventFacts:
    return EventFacts(EventKind.LISTING_WITHDRAWN, {"listing": listing_id, "channel": channel})


def sold(*, listing_id: int, channel: str, price: str, currency: str) -> EventFacts:
    """`price`: the listing's price as text (a decimal, exact)."""
    return EventFacts(EventKind.SOLD, {"listing": listing_id, "channel": channel, "price": price,
                                       "currency": currency})


def edited(*, changes: dict[str, list]) -> EventFacts:
    """`changes`: field → [before, after], for the fields that changed."""
    return EventFacts(EventKind.EDITED, {"changes": dict(changes)})


def repaired(*, actions: list[str], note: str = "") -> EventFacts:
    """A repair record: what was done (RepairAction values, in the order given) and the technician's note."""
    payload = {"actions": list(actions)}
    if note:
        payload["note"] = note
    return EventFacts(EventKind.REPAIRED, payload)


# One builder per kind, and every kind built (tests/inventory/test_events.py holds the two together).
BUILDERS = {
    EventKind.RECEIVED: received, EventKind.TRANSITION: moved, EventKind.INSPECTED: inspected,
    EventKind.RUN_QUEUED: run_queued, EventKind.RUN_STARTED: run_started, EventKind.RUN_FINISHED: run_finished,
    EventKind.RUN_ENDED: run_ended, EventKind.GRADE_RECORDED: grade_recorded,
    EventKind.GRADE_OVERRIDE: grade_overridden, EventKind.CERTIFICATE_ISSUED: certificate_issued,
    EventKind.CERTIFICATE_REVOKED: certificate_revoked, EventKind.CERTIFICATE_SUPERSEDED: certificate_superseded,
    EventKind.LISTING_PUBLISHED: listing_published, EventKind.LISTING_WITHDRAWN: listing_withdrawn,
    EventKind.SOLD: sold, EventKind.EDITED: edited, EventKind.REPAIRED: repaired,
}

"""The unit lifecycle: every legal move between states, who may make it, and what a card needs to be in a state
(a run in progress, a fresh run, a fresh grade, a valid certificate), declared once.

A plain table rather than django-fsm-2: the transition service must lock the row, write the event and
enforce roles in one transaction, and the table itself is data the API returns (allowed targets) and
the docs draw. See docs/lifecycle.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .choices import UnitState as S
from .errors import IllegalTransition

TRANSITIONS: dict[str, frozenset[str]] = {
    # received -> queued: test first, inspect later (a card seated straight from the rig, or taken in by the bench).
    S.RECEIVED: frozenset({S.INSPECTED, S.QUEUED, S.ON_HOLD, S.SCRAPPED}),
    S.INSPECTED: frozenset({S.QUEUED, S.REPAIR, S.ON_HOLD, S.SCRAPPED}),
    S.QUEUED: frozenset({S.TESTING, S.INSPECTED, S.ON_HOLD}),
    # testing -> queued: a run was cancelled or interrupted and the card goes back in line.
    S.TESTING: frozenset({S.TESTED, S.FAILED, S.QUEUED, S.ON_HOLD}),
    S.TESTED: frozenset({S.GRADED, S.FAILED, S.REPAIR, S.QUEUED, S.ON_HOLD}),
    # failed/repair -> graded, graded -> failed: an admin's grade override (grading.services.grade_override).
    S.FAILED: frozenset({S.GRADED, S.REPAIR, S.QUEUED, S.ON_HOLD, S.SCRAPPED}),
    S.REPAIR: frozenset({S.INSPECTED, S.GRADED, S.QUEUED, S.ON_HOLD, S.SCRAPPED}),
    # graded/certified -> queued: a retest, which supersedes the certificate once the card is graded again.
    S.GRADED: frozenset({S.CERTIFIED, S.QUEUED, S.REPAIR, S.FAILED, S.ON_HOLD}),
    S.CERTIFIED: frozenset({S.LISTED, S.QUEUED, S.ON_HOLD}),
    S.LISTED: frozenset({S.SOLD, S.CERTIFIED, S.ON_HOLD}),
    S.SOLD: frozenset({S.RETURNED}),
    S.RETURNED: frozenset({S.INSPECTED, S.REPAIR, S.QUEUED, S.ON_HOLD, S.SCRAPPED}),
    # A hold is lifted by resuming the state the card was held from (see allowed_targets), or by sending it
    # to where work on it restarts.
    S.ON_HOLD: frozenset({S.RECEIVED, S.INSPECTED, S.QUEUED, S.REPAIR, S.SCRAPPED}),
    S.SCRAPPED: frozenset(),
}

# Intake is the only way in: the first event of every unit goes from "" to received.
INITIAL_STATE = S.RECEIVED


# A card held mid-test cannot resume testing: the run was stopped, so it goes back to the queue instead.
NOT_RESUMABLE = frozenset({S.TESTING, S.ON_HOLD})
# A card held while listed lost its listings with the hold (resale.services.listings_follow_move): it resumes as
# certified, to be listed again, never as listed with nothing on offer.
RESUMES_AS = {S.LISTED: S.CERTIFIED}


def allowed_targets(state: str, *, held_from: str = "") -> list[str]:
    """The states a unit in `state` may move to, in declaration order of UnitState. A unit on hold may
    also resume `held_from`, the state it was put on hold from."""
    targets = set(TRANSITIONS.get(state, frozenset()))
    if state == S.ON_HOLD and held_from and held_from not in NOT_RESUMABLE:
        targets.add(RESUMES_AS.get(held_from, held_from))
    return [s.value for s in S if s in targets]


def assert_transition_allowed(from_state: str, to_state: str, *, held_from: str = "") -> None:
    allowed = allowed_targets(from_state, held_from=held_from)
    if to_state not in allowed:
        raise IllegalTransition(from_state, to_state, allowed)


# --- who may make a move ----------------------------------------------------------------------------------------

class Mover(StrEnum):
    """Who makes a move. A person moves cards through the API and the admin; the services own the moves whose
    evidence they hold (a run, a grade, a certificate)."""

    PERSON = "person"
    INSPECTION = "inspection"
    RUN = "run"  # testbench.services.runs: claim, finish, cancel, interrupt
    GRADING = "grading"  # grading.services.grades: grade, override
    CERTIFICATE = "certificate"  # grading.services.certificates: issue, revoke
    LISTING = "listing"  # resale.services: publish, withdraw, sell, take back


# Moves only the named services make. Everything else in the table is open to people (and any service).
_BENCH = frozenset({Mover.RUN})
SERVICE_ONLY_MOVES: dict[tuple[str, str], frozenset[Mover]] = {
    (S.QUEUED, S.TESTING): _BENCH,  # a run claimed its card
    **{(S.TESTING, to): _BENCH for to in TRANSITIONS[S.TESTING]},  # finished, cancelled or interrupted
    **{(source, S.GRADED): frozenset({Mover.GRADING}) for source, targets in TRANSITIONS.items()
       if S.GRADED in targets},
    (S.TESTED, S.FAILED): frozenset({Mover.GRADING}),
    (S.GRADED, S.FAILED): frozenset({Mover.GRADING}),
    (S.GRADED, S.CERTIFIED): frozenset({Mover.CERTIFICATE}),
    # Listings own sale: a card is listed, unlisted, sold and taken back by resale.services, which keep the
    # listings, orders and returns that say why.
    (S.CERTIFIED, S.LISTED): frozenset({Mover.LISTING}),
    (S.LISTED, S.CERTIFIED): frozenset({Mover.LISTING}),
    (S.LISTED, S.SOLD): frozenset({Mover.LISTING}),
    (S.SOLD, S.RETURNED): frozenset({Mover.LISTING}),
}


def movers_for(from_state: str, to_state: str) -> frozenset[Mover] | None:
    """The movers that may make this move, or None if anyone may."""
    return SERVICE_ONLY_MOVES.get((from_state, to_state))


# --- what a state needs -----------------------------------------------------------------------------------------

class Need(StrEnum):
    RUNNING_RUN = "a test run in progress"
    FRESH_RUN = "a finished test run newer than its last return, repair or hold"
    FRESH_GRADE = "a grade from a finished test run newer than its last return, repair or hold"
    VALID_CERTIFICATE = "a valid certificate"


# What a card must have to enter each state, checked on every move (unit_transition), whoever makes it.
NEEDS: dict[str, frozenset[Need]] = {
    S.TESTING: frozenset({Need.RUNNING_RUN}),
    S.TESTED: frozenset({Need.FRESH_RUN}),
    S.FAILED: frozenset({Need.FRESH_RUN}),
    S.GRADED: frozenset({Need.FRESH_GRADE}),
    S.CERTIFIED: frozenset({Need.VALID_CERTIFICATE}),
    S.LISTED: frozenset({Need.VALID_CERTIFICATE}),
    S.SOLD: frozenset({Need.VALID_CERTIFICATE}),
}
# Moves into these states (by a person or a bench) end what the last run showed: a grade needs a run after them.
# A grade's own disposition to repair is not one: it is the run's verdict, not a change to the card.
RESET_STATES = frozenset({S.RETURNED, S.REPAIR, S.ON_HOLD})

# A valid certificate stays valid in these states (a hold for a buyer's question, a sale, a return before it is
# looked at). Any other move marks it: revoked where the card failed or was scrapped, else superseded pending a
# retest, and the next certificate names it.
CERTIFICATE_SURVIVES = frozenset({S.CERTIFIED, S.LISTED, S.SOLD, S.RETURNED, S.ON_HOLD})
CERTIFICATE_REVOKED_ON = {S.FAILED: "card failed a later test", S.SCRAPPED: "card scrapped"}
# What a valid certificate states about the card, frozen while it is valid (a correction goes through revocation
# or a new test).
STATED_BY_CERTIFICATE = ("gpu_model", "board_vendor", "serial", "vbios_version", "nvml_uuid", "pci_device_id",
                         "cosmetic_grade")


@dataclass(frozen=True)
class CardRecord:
    """What the other apps hold about a card that its state depends on, read under the unit's row lock."""

    certificate_status: str = ""  # the card's current (newest) certificate's status; "" if never certified
    running_run: bool = False
    run_finished_at: datetime | None = None  # the newest finished run (passed, failed or error)
    grade_run_finished_at: datetime | None = None  # the run the current grade was made from
    last_reset_at: datetime | None = None  # the newest move into RESET_STATES (from the unit's events)

    def has(self, need: Need) -> bool:
        if need is Need.RUNNING_RUN:
            return self.running_run
        if need is Need.FRESH_RUN:
            return _after(self.run_finished_at, self.last_reset_at)
        if need is Need.FRESH_GRADE:
            return _after(self.grade_run_finished_at, self.last_reset_at)
        return self.certificate_status == "valid"


def _after(moment: datetime | None, reset: datetime | None) -> bool:
    return moment is not None and (reset is None or moment > reset)


def missing_needs(to_state: str, record: CardRecord) -> list[Need]:
    return [need for need in sorted(NEEDS.get(to_state, ())) if not record.has(need)]


# Apps that hold records about cards register how to read them (in AppConfig.ready): the card's certificate
# status (grading), its runs (testbench), its grade (grading). inventory itself knows only the events.
RecordSource = Callable[[int], dict]
MoveListener = Callable[..., None]
_record_sources: list[RecordSource] = []
_move_listeners: list[MoveListener] = []


def register_record_source(source: RecordSource) -> RecordSource:
    if source not in _record_sources:
        _record_sources.append(source)
    return source


def register_move_listener(listener: MoveListener) -> MoveListener:
    """`listener(unit=, from_state=, to_state=, reason=, actor=, actor_label=)` runs inside the transaction of every
    move, after the state is saved: what must change with the state changes with it, or not at all."""
    if listener not in _move_listeners:
        _move_listeners.append(listener)
    return listener


def card_record(unit_id: int, *, last_reset_at: datetime | None) -> CardRecord:
    facts: dict = {"last_reset_at": last_reset_at}
    for source in _record_sources:
        facts.update(source(unit_id))
    return CardRecord(**facts)


def move_listeners() -> tuple[MoveListener, ...]:
    return tuple(_move_listeners)


def allowed_moves(state: str, *, held_from: str = "", record: CardRecord | None = None,
                  mover: Mover = Mover.PERSON) -> list[str]:
    """The states `mover` may move a card in `state` to, given what is on record about it: the table, less the
    service-only moves and the states whose needs the card does not meet."""
    return [to for to in allowed_targets(state, held_from=held_from)
            if ((movers := movers_for(state, to)) is None or mover in movers)
            and (record is None or not missing_needs(to, record))]

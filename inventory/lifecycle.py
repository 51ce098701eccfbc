"""The unit lifecycle: every legal move between states, declared once.

A plain table rather than django-fsm-2: the transition service must lock the row, write the event and
enforce roles in one transaction, and the table itself is data the API returns (allowed targets) and
the docs draw. See docs/lifecycle.md.
"""

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


def allowed_targets(state: str, *, held_from: str = "") -> list[str]:
    """The states a unit in `state` may move to, in declaration order of UnitState. A unit on hold may
    also resume `held_from`, the state it was put on hold from."""
    targets = set(TRANSITIONS.get(state, frozenset()))
    if state == S.ON_HOLD and held_from and held_from not in NOT_RESUMABLE:
        targets.add(held_from)
    return [s.value for s in S if s in targets]


def assert_transition_allowed(from_state: str, to_state: str, *, held_from: str = "") -> None:
    allowed = allowed_targets(from_state, held_from=held_from)
    if to_state not in allowed:
        raise IllegalTransition(from_state, to_state, allowed)

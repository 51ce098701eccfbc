"""Unit state changes and edits. The only code that writes Unit.state."""

from __future__ import annotations

import secrets

from django.db import models, transaction
from django.utils import timezone

from core.errors import InvalidInput

from .. import events
from ..choices import REASON_REQUIRED_STATES, RepairAction, UnitState
from ..errors import IllegalTransition
from ..events import EventFacts
from ..lifecycle import (
    RESET_STATES,
    STATED_BY_CERTIFICATE,
    CardRecord,
    Mover,
    allowed_moves,
    assert_transition_allowed,
    card_record,
    missing_needs,
    move_listeners,
    movers_for,
)
from ..models import Unit, UnitEvent
from ..validators import text_problem

# Crockford's base32: no I, L, O, U, so a tag read off a label cannot be misread.
_TAG_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def asset_tags_generate(count: int) -> list[str]:
    """`count` new asset tags like RF-7K3M-9QXD (40 random bits), none already in use."""
    tags: set[str] = set()
    while len(tags) < count:
        needed = count - len(tags)
        batch = {"RF-" + "-".join("".join(secrets.choice(_TAG_ALPHABET) for _ in range(4)) for _ in range(2))
                 for _ in range(needed)}
        taken = set(Unit.objects.filter(asset_tag__in=batch).values_list("asset_tag", flat=True))
        tags |= batch - taken
    return sorted(tags)


def json_text_problem(value) -> str:
    """Why a JSON value cannot be stored as text in every database we support, or "" if it can.
    (PostgreSQL's jsonb refuses NUL characters and unpaired surrogates.) Walks with a stack, not recursion, so a
    value nested thousands deep is checked like any other (its depth is the serializers' to refuse)."""
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        if isinstance(item, dict | list | tuple):
            if id(item) in seen:  # a value built in code may refer to itself; JSON cannot
                continue
            seen.add(id(item))
            stack.extend([*item.keys(), *item.values()] if isinstance(item, dict) else item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "text must not contain NUL characters"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "text must be valid Unicode (unpaired surrogate)"
    return ""


def actor_label_for(actor, actor_label: str = "") -> str:
    if actor_label:
        return actor_label
    return actor.get_username() if actor is not None else "system"


def unit_last_reset_at(unit: Unit):
    """When the card last went back to the workshop, a buyer or a hold (RESET_STATES), by anyone but grading's own
    disposition: a grade needs a run finished after it."""
    return (UnitEvent.objects.filter(unit=unit, to_state__in=RESET_STATES).exclude(via=Mover.GRADING)
            .exclude(from_state=models.F("to_state"))
            .order_by("-created_at", "-id").values_list("created_at", flat=True).first())


def unit_record(unit: Unit) -> CardRecord:
    """What is on record about the card that its state depends on (runs, grade, certificate, last reset)."""
    return card_record(unit.pk, last_reset_at=unit_last_reset_at(unit))


def unit_moves_for(unit: Unit, *, mover: Mover = Mover.PERSON) -> list[str]:
    """The states `mover` may move the card to now: the table, less service-only moves and unmet needs."""
    return allowed_moves(unit.state, held_from=unit.held_from, record=unit_record(unit), mover=mover)


def unit_transition(
    *,
    unit: Unit | int,
    to_state: str,
    actor=None,
    actor_label: str = "",
    reason: str = "",
    event: EventFacts | None = None,
    mover: Mover = Mover.PERSON,
) -> Unit:
    """Move a unit to `to_state`, recording who, why and what in an append-only event: `event` (from
    inventory.events, one builder per kind: a grade override that moves the card is still a grade override), by
    default a person's move.

    The unit row is locked for the transaction, so two callers (two benches starting one card) are
    serialised and the second sees the state the first left: exactly one wins. The move must be in the table, be
    `mover`'s to make (a person cannot set testing, tested, graded or certified: the run, grading and certificate
    services do, with their evidence) and meet the target state's needs (lifecycle.NEEDS); the apps listening to
    moves (a certificate marked when its card leaves certified) act in the same transaction.
    Raises IllegalTransition (with the allowed targets and why) or InvalidInput.
    """
    to_state = getattr(to_state, "value", to_state)  # a UnitState member reads as its plain value in messages
    if to_state not in UnitState.values:
        raise InvalidInput({"to": [f"{to_state!r} is not a state; states are: {', '.join(UnitState.values)}"]})
    reason = (reason or "").strip()
    if to_state in REASON_REQUIRED_STATES and not reason:
        raise InvalidInput({"reason": [f"a reason is required to move a unit to {to_state}"]})
    event = event or events.moved()
    if event.payload and (problem := json_text_problem(event.payload)):
        raise InvalidInput({"payload": [problem]})

    unit_id = unit.pk if isinstance(unit, Unit) else unit
    with transaction.atomic():
        locked = Unit.objects.select_for_update().get(pk=unit_id)
        from_state = locked.state
        try:
            assert_transition_allowed(from_state, to_state, held_from=locked.held_from)
        except IllegalTransition:
            # Name the moves this mover could make instead, not every move in the table.
            raise IllegalTransition(from_state, to_state, unit_moves_for(locked, mover=mover)) from None
        movers = movers_for(from_state, to_state)
        if movers is not None and mover not in movers:
            raise IllegalTransition(from_state, to_state, unit_moves_for(locked, mover=mover),
                                    why=f"only the {' or '.join(sorted(movers))} service makes this move")
        record = unit_record(locked)
        if missing := missing_needs(to_state, record):
            raise IllegalTransition(from_state, to_state, unit_moves_for(locked, mover=mover),
                                    why=f"{to_state} needs {' and '.join(missing)}")
        now = timezone.now()
        locked.state = to_state
        locked.state_changed_at = now
        locked.held_from = from_state if to_state == UnitState.ON_HOLD else ""
        locked.save(update_fields=["state", "state_changed_at", "held_from", "updated_at"])
        UnitEvent.objects.create(
            unit=locked,
            actor=actor,
            actor_label=actor_label_for(actor, actor_label),
            from_state=from_state,
            to_state=to_state,
            kind=event.kind,
            via=mover,
            reason=reason,
            payload=event.payload,
            created_at=now,
        )
        for listener in move_listeners():
            listener(unit=locked, from_state=from_state, to_state=to_state, reason=reason, actor=actor,
                     actor_label=actor_label, record=record)
    if isinstance(unit, Unit):
        unit.state, unit.state_changed_at, unit.held_from = locked.state, locked.state_changed_at, locked.held_from
    return locked


def unit_event_record(*, unit: Unit, event: EventFacts, reason: str, actor=None, actor_label: str = "",
                      mover: Mover = Mover.PERSON) -> UnitEvent:
    """Record a decision about a unit that leaves its state as it is (a grade override, a revoked certificate);
    `event` from inventory.events. Call it inside the transaction that makes the decision, with the unit row
    locked."""
    if not (reason or "").strip():
        raise InvalidInput({"reason": ["a reason is required"]})
    return UnitEvent.objects.create(unit=unit, actor=actor, actor_label=actor_label_for(actor, actor_label),
                                    from_state=unit.state, to_state=unit.state, kind=event.kind, via=mover,
                                    reason=reason.strip(), payload=event.payload)


def unit_decide(*, unit: Unit, to_state: str | None, event: EventFacts, reason: str, actor=None,
                actor_label: str = "", mover: Mover = Mover.PERSON) -> None:
    """A service's decision about a card: move it to `to_state` where it is elsewhere, else (None, or already there)
    record `event` where the card stands — one event either way (a failed card graded FAIL, a card listed on a
    second channel)."""
    if to_state is not None and unit.state != to_state:
        unit_transition(unit=unit, to_state=to_state, actor=actor, actor_label=actor_label, reason=reason,
                        event=event, mover=mover)
    else:
        unit_event_record(unit=unit, event=event, reason=reason, actor=actor, actor_label=actor_label, mover=mover)


def unit_repair_record(*, unit: Unit, actions: list[str], note: str = "", actor=None, actor_label: str = "") -> Unit:
    """A repair done: what was done (RepairAction values; "other" needs the note to say what), recorded as the event
    that moves the card from repair back to the test queue, since a repaired card is graded only on a new run."""
    actions = list(dict.fromkeys(actions or []))
    note = (note or "").strip()
    errors = {}
    if not actions:
        errors["actions"] = ["say what was done: " + ", ".join(RepairAction.values)]
    elif unknown := [a for a in actions if a not in RepairAction.values]:
        errors["actions"] = [f"{', '.join(map(repr, unknown))}: not a repair; repairs are: "
                             f"{', '.join(RepairAction.values)}"]
    if RepairAction.OTHER in actions and not note:
        errors["note"] = ["describe the repair marked other"]
    if problem := text_problem(note, multiline=True):
        errors["note"] = [problem]
    if errors:
        raise InvalidInput(errors)
    labels = ", ".join(RepairAction(a).label for a in actions)
    with transaction.atomic():
        locked = Unit.objects.select_for_update().get(pk=unit.pk)
        if locked.state != UnitState.REPAIR:
            raise InvalidInput({"unit": [f"{locked.asset_tag} is {locked.state}; a repair is recorded for a card "
                                         "in repair"]})
        return unit_transition(unit=locked, to_state=UnitState.QUEUED, actor=actor, actor_label=actor_label,
                               reason=f"repaired: {labels}" + (f" ({note})" if note else ""),
                               event=events.repaired(actions=actions, note=note))


# Fields a person may edit after intake. Identity fields come from a bench; the cosmetic grade changes only
# through an inspection, which keeps a record of who graded what.
EDITABLE_FIELDS = ("location", "notes", "source_rig", "board_part_number", "vbios_version")


def unit_stated_fields_check(unit: Unit, changes: dict) -> None:
    """Refuse changes to what the card's valid certificate states (model, board vendor, serial, VBIOS, …): a buyer
    holds that certificate. A correction goes through revoking it or a new test."""
    stated = sorted(f for f, value in changes.items()
                    if f in STATED_BY_CERTIFICATE and getattr(unit, f) != value)
    if stated and card_record(unit.pk, last_reset_at=None).certificate_status == "valid":
        raise InvalidInput({field: [f"{unit.asset_tag}'s valid certificate states its {field.replace('_', ' ')}: "
                                    "revoke the certificate or test the card again to correct it"]
                            for field in stated})


def unit_update(*, unit: Unit, actor=None, actor_label: str = "", **changes) -> Unit:
    """Edit the fields a person may edit (EDITABLE_FIELDS), and record what changed, from what to what, in an
    `edited` event in the same transaction."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput({field: ["cannot be changed here"] for field in sorted(unknown)})
    with transaction.atomic():
        Unit.objects.select_for_update().filter(pk=unit.pk).exists()  # against a certificate issued meanwhile
        unit_stated_fields_check(unit, changes)
        before = {field: getattr(unit, field) for field in changes}
        for field, value in changes.items():
            setattr(unit, field, value)
        unit.full_clean(exclude=["gpu_model", "lot"], validate_unique=False, validate_constraints=False)
        unit.save(update_fields=[*changes, "updated_at"])
        changed = {field: [before[field], value] for field, value in changes.items() if before[field] != value}
        if changed:
            unit_event_record(unit=unit, event=events.edited(changes=changed), actor=actor, actor_label=actor_label,
                              reason="edited " + ", ".join(f"{f.replace('_', ' ')}" for f in changed))
    return unit

"""Unit state changes and edits. The only code that writes Unit.state."""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone

from ..choices import REASON_REQUIRED_STATES, EventKind, UnitState
from ..errors import InvalidInput
from ..lifecycle import assert_transition_allowed
from ..models import Unit, UnitEvent

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


def unit_transition(
    *,
    unit: Unit | int,
    to_state: str,
    actor=None,
    actor_label: str = "",
    reason: str = "",
    payload: dict | None = None,
    kind: str = EventKind.TRANSITION,
) -> Unit:
    """Move a unit to `to_state`, recording who, why and what in an append-only event (of `kind`: a grade override
    that moves the card is still a grade override).

    The unit row is locked for the transaction, so two callers (two benches starting one card) are
    serialised and the second sees the state the first left: exactly one wins.
    Raises IllegalTransition (with the allowed targets) or InvalidInput.
    """
    to_state = getattr(to_state, "value", to_state)  # a UnitState member reads as its plain value in messages
    if to_state not in UnitState.values:
        raise InvalidInput({"to": [f"{to_state!r} is not a state; states are: {', '.join(UnitState.values)}"]})
    reason = (reason or "").strip()
    if to_state in REASON_REQUIRED_STATES and not reason:
        raise InvalidInput({"reason": [f"a reason is required to move a unit to {to_state}"]})
    if payload is not None and not isinstance(payload, dict):
        raise InvalidInput({"payload": ["must be a JSON object"]})
    if payload and (problem := json_text_problem(payload)):
        raise InvalidInput({"payload": [problem]})

    unit_id = unit.pk if isinstance(unit, Unit) else unit
    with transaction.atomic():
        locked = Unit.objects.select_for_update().get(pk=unit_id)
        from_state = locked.state
        assert_transition_allowed(from_state, to_state, held_from=locked.held_from)
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
            kind=kind,
            reason=reason,
            payload=payload or {},
            created_at=now,
        )
    if isinstance(unit, Unit):
        unit.state, unit.state_changed_at, unit.held_from = locked.state, locked.state_changed_at, locked.held_from
    return locked


def unit_event_record(*, unit: Unit, kind: str, reason: str, actor=None, actor_label: str = "",
                      payload: dict | None = None) -> UnitEvent:
    """Record a decision about a unit that leaves its state as it is (a grade override, a revoked certificate).
    Call it inside the transaction that makes the decision, with the unit row locked."""
    if not (reason or "").strip():
        raise InvalidInput({"reason": ["a reason is required"]})
    return UnitEvent.objects.create(unit=unit, actor=actor, actor_label=actor_label_for(actor, actor_label),
                                    from_state=unit.state, to_state=unit.state, kind=kind, reason=reason.strip(),
                                    payload=payload or {})


# Fields a person may edit after intake. Identity fields come from a bench; the cosmetic grade changes only
# through an inspection, which keeps a record of who graded what.
EDITABLE_FIELDS = ("location", "notes", "source_rig", "board_part_number", "vbios_version")


def unit_update(*, unit: Unit, **changes) -> Unit:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput({field: ["cannot be changed here"] for field in sorted(unknown)})
    for field, value in changes.items():
        setattr(unit, field, value)
    unit.full_clean(exclude=["gpu_model", "lot"], validate_unique=False, validate_constraints=False)
    unit.save(update_fields=[*changes, "updated_at"])
    return unit

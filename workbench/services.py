"""What a technician does to a batch of scanned cards: hold them, or move them to a shelf. All or nothing: one card
that may not be held refuses the batch, naming every card refused and why, and nothing moves."""

from __future__ import annotations

from django.db import transaction

from core.errors import DomainError, InvalidInput
from inventory.choices import UnitState
from inventory.models import Unit
from inventory.services import IntakeRow, intake_import
from inventory.services.units import unit_transition, unit_update
from testbench.services import runs_queue


def _not_empty(units: list[Unit]) -> None:
    if not units:
        raise InvalidInput({"units": ["the batch is empty: scan the cards first"]})


def _each_or_none(units: list[Unit], act) -> list[Unit]:
    """`act` on every card, each in a savepoint so that all refusals are collected; any refusal undoes them all."""
    _not_empty(units)
    refused: list[str] = []
    with transaction.atomic():
        done = []
        for unit in units:
            try:
                with transaction.atomic():
                    done.append(act(unit))
            except DomainError as exc:
                refused.append(f"{unit.asset_tag}: {exc}")
        if refused:
            raise InvalidInput({"units": refused})  # leaving the block by an exception rolls it all back
    return done


def batch_queue(*, units: list[Unit], plan: str, actor=None) -> list:
    """A test run for each card where it is seated (the runs service: all or none, every refusal named)."""
    _not_empty(units)
    return runs_queue(units=units, plan=plan, actor=actor)


def batch_hold(*, units: list[Unit], reason: str, actor=None) -> list[Unit]:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": ["a hold needs a reason (it is on each card's timeline)"]})
    return _each_or_none(units, lambda unit: unit_transition(unit=unit, to_state=UnitState.ON_HOLD, reason=reason,
                                                             actor=actor))


def batch_locate(*, units: list[Unit], location: str, actor=None) -> list[Unit]:
    location = (location or "").strip()
    if not location:
        raise InvalidInput({"location": ["say where the cards go (a shelf, a bin, a bench)"]})
    return _each_or_none(units, lambda unit: unit_update(unit=Unit.objects.get(pk=unit.pk), location=location,
                                                         actor=actor))


def card_intake(*, lot_reference: str, model: str, board_vendor: str, serial: str, actor=None) -> Unit:
    """One card taken in at the bench (the intake service's checks and all-or-nothing write, for one row)."""
    row = IntakeRow(line=1, values={"model": model, "board_vendor": board_vendor, "serial": serial})
    _, (unit,) = intake_import(lot_reference=lot_reference, rows=[row], actor=actor, source="bench")
    return unit

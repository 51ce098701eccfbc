"""Grading services: grade a tested card from its latest run, override a grade with a reason, and move the card on
through the lifecycle."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from core.errors import Conflict, InvalidInput
from inventory import events
from inventory.choices import UnitState
from inventory.lifecycle import Mover
from inventory.models import Unit
from inventory.services import unit_decide
from inventory.services.units import unit_last_reset_at
from testbench.choices import RESULT_RUN_STATES
from testbench.models import TestRun
from testbench.reference import reference_from_model
from testbench.selectors import codes_found_in_other_slots, run_results
from testbench.services import slot_seat

from ..grader import grade_results
from ..models import FunctionalGrade, Grade
from ..policy import marketplace_conditions
from ..selectors import grade_current

GRADABLE_STATES = (UnitState.TESTED, UnitState.FAILED)
# retest: a finding that may be the slot's (a degraded link) and no other slot has confirmed it. The card goes back
# to the queue, out of that slot, to be seated in another one.
NEXT_STATE = {"graded": UnitState.GRADED, "repair": UnitState.REPAIR, "failed": UnitState.FAILED,
              "retest": UnitState.QUEUED}


def marketplace_options() -> dict:
    """This seller's standing on eBay, from the settings: which restricted conditions it may use."""
    return {"ebay_refurbished_programme": settings.REFURB_EBAY_REFURBISHED_PROGRAMME,
            "ebay_seller_refurbished": settings.REFURB_EBAY_SELLER_REFURBISHED}


def unit_grade(*, unit: Unit, actor=None, actor_label: str = "") -> Grade:
    """Grade a card that has finished its test run (tested or failed) from that run's results and its inspection,
    record the grade, and move the card to graded, repair or failed — all in one transaction. A finding that may be
    the slot's fault, not yet confirmed by a run in another slot, sends the card back to the queue instead, taken
    out of that slot (the slot keeps the strike: testbench.selectors.slot_strikes)."""
    with transaction.atomic():
        locked = Unit.objects.select_for_update().select_related("gpu_model").get(pk=unit.pk)
        if locked.state not in GRADABLE_STATES:
            raise InvalidInput({"unit": [f"{locked.asset_tag} is {locked.state}; a card is graded once its test "
                                         "run has finished (tested or failed)"]})
        run = (TestRun.objects.filter(unit=locked, state__in=RESULT_RUN_STATES)
               .order_by("-finished_at", "-id").first())
        if run is None:
            raise InvalidInput({"unit": [f"{locked.asset_tag} has no finished test run to grade"]})
        reset_at = unit_last_reset_at(locked)
        if reset_at is not None and run.finished_at <= reset_at:
            # A returned, repaired or held card is graded from what a run showed after that, never before.
            raise InvalidInput({"unit": [f"{locked.asset_tag}'s last test run finished before it was returned, "
                                         f"repaired or held ({reset_at:%Y-%m-%d %H:%M} UTC): test it again"]})
        results = run_results(run)
        grade = grade_results(results, reference=reference_from_model(locked.gpu_model),
                              cosmetic=locked.cosmetic_grade, identity=run.identity,
                              marketplace_options=marketplace_options(),
                              confirmed_in_another_slot=codes_found_in_other_slots(run, since=reset_at))
        record = _grade_record(
            unit=locked, run=run, functional=grade.functional, cosmetic=grade.cosmetic,
            policy_version=grade.policy_version, reasons=grade.as_dict()["reasons"], disposition=grade.disposition,
            marketplace=grade.marketplace, ai=grade.ai, graded_by=actor)
        target = NEXT_STATE[grade.disposition]
        why = grade.reasons[0].sentence if grade.reasons else "every check passed at reference performance"
        summary = f"graded {grade.functional}/{grade.cosmetic or '-'} (policy {grade.policy_version}): {why}"[:1000]
        slot_id = None
        if grade.disposition == "retest":
            suspect = next(r for r in grade.reasons if r.code in grade.awaiting_another_slot)
            where = f" (slot {run.slot})" if run.slot_id else ""
            summary = (f"retest in another slot{where}: {suspect.sentence}; graded {grade.functional} if another "
                       "slot confirms it")[:1000]
            slot_id = run.slot_id
            if run.slot_id and run.slot.unit_id == locked.pk:
                slot_seat(slot=run.slot, unit=None)
        event = events.grade_recorded(grade_id=record.pk, run_id=run.pk, functional=grade.functional,
                                      codes=[r.code for r in grade.reasons], slot_id=slot_id)
        # A failed card graded FAIL stays failed: the grade is still a decision on record.
        unit_decide(unit=locked, to_state=target, event=event, reason=summary, actor=actor,
                    actor_label=actor_label or "grading", mover=Mover.GRADING)
    return record


def _grade_record(*, unit: Unit, **fields) -> Grade:
    """The card's new current grade; the one it replaces stays on record. The caller holds the card's row lock."""
    Grade.objects.filter(unit=unit, is_current=True).update(is_current=False)
    return Grade.objects.create(unit=unit, is_current=True, **fields)


OVERRIDABLE_STATES = (UnitState.GRADED, UnitState.REPAIR, UnitState.FAILED)


def grade_override(*, unit: Unit, functional: str, reason: str, actor=None, actor_label: str = "",
                   overriding: Grade | None = None) -> Grade:
    """An admin's override of a card's current functional grade. The measured reasons stay; the new grade records
    the one it overrides and why, an event records the decision, and the card moves to graded or failed to match.
    The certificate shows the override (payload grade.override). `overriding`: the grade the admin looked at, which
    must still be the current one (Conflict otherwise: someone regraded the card meanwhile)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": ["an override needs a reason (it is printed on the certificate)"]})
    if functional not in FunctionalGrade.values:
        raise InvalidInput({"functional": [f"{functional!r} is not a grade; grades are: "
                                           f"{', '.join(FunctionalGrade.values)}"]})
    with transaction.atomic():
        locked = Unit.objects.select_for_update().get(pk=unit.pk)
        if locked.state not in OVERRIDABLE_STATES:
            raise InvalidInput({"unit": [f"{locked.asset_tag} is {locked.state}; a grade is overridden while the "
                                         f"card is {', '.join(OVERRIDABLE_STATES)}; a certified card's certificate is "
                                         "revoked and the card retested instead"]})
        current = grade_current(locked)
        if current is None:
            raise InvalidInput({"unit": [f"{locked.asset_tag} has not been graded"]})
        if overriding is not None and overriding.pk != current.pk:
            raise Conflict(f"grade {overriding.pk} is not {locked.asset_tag}'s current grade ({current.pk})")
        if functional == current.functional:
            raise InvalidInput({"functional": [f"the grade is already {functional}"]})
        original = current.overrides or current  # an override of an override still names the measured grade
        disposition = "failed" if functional == FunctionalGrade.FAIL else "graded"
        record = _grade_record(
            unit=locked, run=current.run, functional=functional, cosmetic=current.cosmetic,
            policy_version=current.policy_version, reasons=current.reasons, disposition=disposition,
            marketplace=marketplace_conditions(functional, current.cosmetic, **marketplace_options()),
            ai=current.ai, graded_by=actor, overrides=original, override_reason=reason)
        summary = f"grade overridden from {current.functional} to {functional}: {reason}"[:1000]
        event = events.grade_overridden(grade_id=record.pk, overrides_id=current.pk, from_grade=current.functional,
                                        to_grade=functional)
        target = NEXT_STATE[disposition]
        unit_decide(unit=locked, to_state=target, event=event, reason=summary, actor=actor, actor_label=actor_label,
                    mover=Mover.GRADING)
    return record

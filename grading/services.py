"""Grading services: grade a tested card from its latest run, and move it on through the lifecycle."""

from __future__ import annotations

from django.db import transaction

from inventory.choices import UnitState
from inventory.errors import InvalidInput
from inventory.models import Unit
from inventory.services import unit_transition
from testbench.choices import RunState
from testbench.models import TestRun
from testbench.reference import reference_from_model

from .grader import grade_results
from .models import Grade

GRADABLE_STATES = (UnitState.TESTED, UnitState.FAILED)
NEXT_STATE = {"graded": UnitState.GRADED, "repair": UnitState.REPAIR, "failed": UnitState.FAILED}


def unit_grade(*, unit: Unit, actor=None, actor_label: str = "") -> Grade:
    """Grade a card that has finished its test run (tested or failed) from that run's results and its inspection,
    record the grade, and move the card to graded, repair or failed — all in one transaction."""
    with transaction.atomic():
        locked = Unit.objects.select_for_update().select_related("gpu_model").get(pk=unit.pk)
        if locked.state not in GRADABLE_STATES:
            raise InvalidInput({"unit": [f"{locked.asset_tag} is {locked.state}; a card is graded once its test "
                                         "run has finished (tested or failed)"]})
        run = (TestRun.objects.filter(unit=locked, state__in=[RunState.PASSED, RunState.FAILED, RunState.ERROR])
               .order_by("-finished_at", "-id").first())
        if run is None:
            raise InvalidInput({"unit": [f"{locked.asset_tag} has no finished test run to grade"]})
        results = list(run.results.order_by("position").values("name", "status", "summary", "metrics", "evidence"))
        grade = grade_results(results, reference=reference_from_model(locked.gpu_model),
                              cosmetic=locked.cosmetic_grade, identity=run.identity)
        record = Grade.objects.create(
            unit=locked, run=run, functional=grade.functional, cosmetic=grade.cosmetic,
            policy_version=grade.policy_version, reasons=grade.as_dict()["reasons"], disposition=grade.disposition,
            marketplace=grade.marketplace, ai=grade.ai, graded_by=actor)
        target = NEXT_STATE[grade.disposition]
        if locked.state != target:
            why = grade.reasons[0].sentence if grade.reasons else "every check passed at reference performance"
            unit_transition(unit=locked, to_state=target, actor=actor, actor_label=actor_label or "grading",
                            reason=f"graded {grade.functional}/{grade.cosmetic or '-'} "
                                   f"(policy {grade.policy_version}): {why}"[:1000],
                            payload={"grade": record.pk, "run": run.pk, "functional": grade.functional,
                                     "codes": [r.code for r in grade.reasons]})
    return record

"""Reads for grading."""

from __future__ import annotations

from django.db.models import F, FilteredRelation, Q

from .models import Certificate, Grade


def grade_current(unit) -> Grade | None:
    """The card's current grade: its newest (an override is newer than the grade it overrides)."""
    return unit.grades.filter(is_current=True).first()


def unit_grading_record(unit_id: int) -> dict:
    """What the lifecycle needs to know of a card's grade and certificate (inventory.lifecycle.CardRecord): when
    the run its current grade came from finished, and its current certificate's status ("" if never certified)."""
    grade_run_finished_at = (Grade.objects.filter(unit_id=unit_id, is_current=True)
                             .values_list("run__finished_at", flat=True).first())
    status = (Certificate.objects.filter(unit_id=unit_id).order_by("-issued_at", "-id")
              .values_list("status", flat=True).first())
    return {"grade_run_finished_at": grade_run_finished_at, "certificate_status": status or ""}


def with_current_grade(units, **fields):
    """`units` (a Unit queryset) annotated with fields of each card's current grade, joined (one LEFT JOIN on the
    one-current-grade-per-card index, not a subquery per card): with_current_grade(units, functional_now="functional",
    bench_now="run__bench__name"). A card never graded gets None."""
    units = units.annotate(current_grade=FilteredRelation("grades", condition=Q(grades__is_current=True)))
    return units.annotate(**{name: F(f"current_grade__{path}") for name, path in fields.items()})

"""Reads for grading."""

from __future__ import annotations

from .models import Certificate, Grade


def grade_current(unit) -> Grade | None:
    """The card's current grade: its newest (an override is newer than the grade it overrides)."""
    return unit.grades.order_by("-created_at", "-id").first()


def unit_grading_record(unit_id: int) -> dict:
    """What the lifecycle needs to know of a card's grade and certificate (inventory.lifecycle.CardRecord): when
    the run its current grade came from finished, and its current certificate's status ("" if never certified)."""
    grade_run_finished_at = (Grade.objects.filter(unit_id=unit_id).order_by("-created_at", "-id")
                             .values_list("run__finished_at", flat=True).first())
    status = (Certificate.objects.filter(unit_id=unit_id).order_by("-issued_at", "-id")
              .values_list("status", flat=True).first())
    return {"grade_run_finished_at": grade_run_finished_at, "certificate_status": status or ""}

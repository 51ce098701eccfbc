"""Inspections: what a technician sees on the bench before any test."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from core.errors import InvalidInput

from .. import events
from ..choices import UnitState
from ..lifecycle import Mover
from ..models import Inspection, InspectionPhoto, Unit, photo_original_name
from .units import unit_stated_fields_check, unit_transition

# An inspection moves a card on only from these states; elsewhere (on hold, queued, after tests) it is recorded
# and sets the cosmetic grade, but the card stays where it is.
INSPECTION_ADVANCES_FROM = frozenset({UnitState.RECEIVED, UnitState.RETURNED, UnitState.REPAIR})


def inspection_record(
    *,
    unit: Unit | int,
    actor=None,
    cosmetic_grade: str,
    fan_condition: str,
    thermal_pads: str = "original",
    thermal_paste: str = "original",
    pcie_connector_damage: bool = False,
    bracket_present: bool = True,
    missing_parts: str = "",
    notes: str = "",
    photos: list | None = None,
) -> Inspection:
    """Record an inspection and set the unit's cosmetic grade; a received, returned or repaired unit moves to
    inspected, all in one transaction. `photos` is a list of uploaded files or (file, caption) pairs."""
    unit_id = unit.pk if isinstance(unit, Unit) else unit
    stored: list[InspectionPhoto] = []
    try:
        with transaction.atomic():
            locked = Unit.objects.select_for_update().get(pk=unit_id)
            inspection = Inspection(
                unit=locked, inspected_by=actor, cosmetic_grade=cosmetic_grade, fan_condition=fan_condition,
                thermal_pads=thermal_pads, thermal_paste=thermal_paste, pcie_connector_damage=pcie_connector_damage,
                bracket_present=bracket_present, missing_parts=missing_parts.strip(), notes=notes.strip(),
            )
            try:
                inspection.full_clean()
            except ValidationError as exc:
                raise InvalidInput(exc.message_dict) from None
            if locked.state not in INSPECTION_ADVANCES_FROM:
                # A card that stays where it is (certified, listed) keeps what its certificate states.
                unit_stated_fields_check(locked, {"cosmetic_grade": cosmetic_grade})
            inspection.save()
            for item in photos or []:
                image, caption = item if isinstance(item, tuple) else (item, "")
                # Stored under a random name (models.inspection_photo_path); the uploader's is metadata only.
                stored.append(InspectionPhoto.objects.create(
                    inspection=inspection, image=image, caption=caption,
                    original_name=photo_original_name(getattr(image, "name", "") or "")))
            locked.cosmetic_grade = cosmetic_grade
            locked.save(update_fields=["cosmetic_grade", "updated_at"])
            if locked.state in INSPECTION_ADVANCES_FROM:
                unit_transition(
                    unit=locked, to_state=UnitState.INSPECTED, actor=actor, reason="inspection", mover=Mover.INSPECTION,
                    event=events.inspected(
                        inspection_id=inspection.pk, cosmetic_grade=cosmetic_grade, fan_condition=fan_condition,
                        pcie_connector_damage=pcie_connector_damage, bracket_present=bracket_present,
                        photos=len(stored)),
                )
    except BaseException:
        # The rows rolled back; the image files the storage already wrote would be orphans.
        for photo in stored:
            photo.image.delete(save=False)
        raise
    return inspection

"""Lots: creation, edits, and sharing a lot's cost over its units."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from ..errors import InvalidInput
from ..models import Lot, Unit

CENT = Decimal("0.01")
LOT_FIELDS = ("supplier", "purchased_on", "total_cost", "currency", "notes")


def _validated(lot: Lot) -> Lot:
    try:
        lot.full_clean()
    except ValidationError as exc:
        raise InvalidInput(exc.message_dict) from None
    return lot


def lot_create(*, reference: str, **fields) -> Lot:
    fields.setdefault("currency", settings.REFURB_DEFAULT_CURRENCY)
    unknown = set(fields) - set(LOT_FIELDS)
    if unknown:
        raise InvalidInput({f: ["unknown lot field"] for f in sorted(unknown)})
    lot = _validated(Lot(reference=(reference or "").strip(), **{k: v for k, v in fields.items() if v is not None}))
    lot.save()
    return lot


def lot_update(*, lot: Lot, **changes) -> Lot:
    unknown = set(changes) - set(LOT_FIELDS)
    if unknown:
        raise InvalidInput({f: ["unknown lot field"] for f in sorted(unknown)})
    with transaction.atomic():
        for field, value in changes.items():
            setattr(lot, field, value)
        _validated(lot).save()
        if "total_cost" in changes:
            lot_allocate_costs(lot=lot)
    return lot


def lot_allocate_costs(*, lot: Lot) -> None:
    """Set every unit's cost basis: its own cost when given, else an equal share of what the lot cost
    beyond the given costs. Shares are whole cents and add up exactly (leftover cents go to the oldest units)."""
    with transaction.atomic():
        units = list(Unit.objects.select_for_update().filter(lot=lot).order_by("id").only("id", "cost_given"))
        given = sum((u.cost_given for u in units if u.cost_given is not None), Decimal("0"))
        shared = [u for u in units if u.cost_given is None]
        remainder = max(lot.total_cost - given, Decimal("0"))
        if shared:
            share = (remainder / len(shared)).quantize(CENT, rounding=ROUND_DOWN)
            leftover_cents = int((remainder - share * len(shared)) / CENT)
            for index, unit in enumerate(shared):
                unit.cost_basis = share + (CENT if index < leftover_cents else 0)
        for unit in units:
            if unit.cost_given is not None:
                unit.cost_basis = unit.cost_given
        Unit.objects.bulk_update(units, ["cost_basis"], batch_size=500)

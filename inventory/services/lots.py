"""Lots: creation, edits, and sharing a lot's cost over its units."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum

from core.errors import InvalidInput

from ..models import Lot, Unit

CENT = Decimal("0.01")
LOT_FIELDS = ("supplier", "purchased_on", "total_cost", "currency", "notes")
LOT_UPDATE_FIELDS = ("reference", *LOT_FIELDS)


def _validated(lot: Lot, *, unique: bool = True) -> Lot:
    try:
        lot.full_clean(validate_unique=unique, validate_constraints=unique)
    except ValidationError as exc:
        raise InvalidInput(exc.message_dict) from None
    return lot


def lot_validate(*, reference: str, **fields) -> Lot:
    """The lot these fields make, checked as lot_create checks it (all but the reference's uniqueness) and not
    saved: what a dry run answers with, and how an intake into an existing lot still checks the fields it got."""
    fields.setdefault("currency", settings.REFURB_DEFAULT_CURRENCY)
    unknown = set(fields) - {*LOT_FIELDS, "demo"}
    if unknown:
        raise InvalidInput({f: ["unknown lot field"] for f in sorted(unknown)})
    return _validated(Lot(reference=(reference or "").strip(), **{k: v for k, v in fields.items() if v is not None}),
                      unique=False)


def lot_create(*, reference: str, **fields) -> Lot:
    """A new lot. `demo=True` marks a demonstration lot (only code sets it: no face offers it)."""
    lot = _validated(lot_validate(reference=reference, **fields))
    lot.save()
    return lot


def lot_update(*, lot: Lot, **changes) -> Lot:
    unknown = set(changes) - set(LOT_UPDATE_FIELDS)
    if unknown:
        raise InvalidInput({f: ["unknown lot field"] for f in sorted(unknown)})
    with transaction.atomic():
        for field, value in changes.items():
            setattr(lot, field, value)
        _validated(lot).save()
        if "total_cost" in changes:
            lot_allocate_costs(lot=lot)
    return lot


def lot_cost_warnings(*, lot: Lot) -> list[str]:
    """What is off about a lot's costs, in words: the per-card costs given add up to more than the lot cost."""
    given_total = Unit.objects.filter(lot=lot).aggregate(total=Sum("cost_given"))["total"] or Decimal("0")
    if given_total > lot.total_cost:
        return [f"the costs given per card add up to {given_total:.2f} {lot.currency}, more than the lot's total "
                f"cost of {lot.total_cost:.2f} {lot.currency}; cards without a cost of their own get 0.00"]
    return []


def lot_allocate_costs(*, lot: Lot) -> None:
    """Set every unit's cost basis: its own cost when given, else an equal share of what the lot cost
    beyond the given costs. Shares are whole cents and add up exactly (leftover cents go to the oldest units).

    Three UPDATEs whatever the lot's size: shares differ by at most one cent, and the units that get the extra
    cent are a prefix of the id order."""
    with transaction.atomic():
        units = Unit.objects.select_for_update().filter(lot=lot)
        given = units.filter(cost_given__isnull=False)
        given_total = given.aggregate(total=Sum("cost_given"))["total"] or Decimal("0")
        given.update(cost_basis=F("cost_given"))
        shared_ids = list(units.filter(cost_given__isnull=True).order_by("id").values_list("id", flat=True))
        if not shared_ids:
            return
        remainder = max(lot.total_cost - given_total, Decimal("0"))
        share = (remainder / len(shared_ids)).quantize(CENT, rounding=ROUND_DOWN)
        extra_cents = int((remainder - share * len(shared_ids)) / CENT)
        shared = units.filter(cost_given__isnull=True)
        if extra_cents:
            shared.filter(id__lte=shared_ids[extra_cents - 1]).update(cost_basis=share + CENT)
            shared.filter(id__gt=shared_ids[extra_cents - 1]).update(cost_basis=share)
        else:
            shared.update(cost_basis=share)

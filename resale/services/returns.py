"""Returns (RMA): a sold card comes back within its return or warranty window. The serial scanned must be the
serial that left; the card goes `returned` with a reason code, and from there back through inspection and tests to
a new grade and certificate (which supersedes the old one: certificates are never edited) or to scrap. What the
return cost (refund aside) lands on the lot's books (resale.selectors' lot figures)."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput
from inventory.choices import UnitState
from inventory.lifecycle import Mover
from inventory.models import Unit
from inventory.services import unit_transition
from inventory.validators import money_parse, serial_normalize, text_problem

from ..models import CardReturn, Order, OrderLine, ReturnReason


def return_window_end(order: Order):
    """The last moment a card of this order may come back: the longer of its return window and its warranty."""
    listing = order.listing
    return order.sold_at + timedelta(days=max(listing.return_days, listing.warranty_days))


def return_receive(*, order: Order, scanned_serial: str, reason: str, refund=0, cost=0, notes: str = "",
                   actor=None, actor_label: str = "", now=None) -> CardReturn:
    """Take a card of `order` back. Refused, with the reason, when the serial scanned is not one that left in this
    order, the window has closed, or the card is back already."""
    errors: dict[str, list[str]] = {}
    try:
        scanned = serial_normalize(scanned_serial or "")
    except ValidationError as exc:
        scanned = ""
        errors["scanned_serial"] = list(exc.messages)
    if not scanned and not errors:
        errors["scanned_serial"] = ["scan the returned card's serial"]
    if reason not in ReturnReason.values:
        errors["reason"] = [f"{reason!r} is not a return reason; reasons are: {', '.join(ReturnReason.values)}"]
    amounts = {}
    for field, value in (("refund", refund), ("cost", cost)):
        try:
            amounts[field] = money_parse(str(value if value not in (None, "") else 0))
        except ValueError as exc:
            errors[field] = [str(exc)]
    if notes and text_problem(notes, multiline=True):
        errors["notes"] = [text_problem(notes, multiline=True)]
    if errors:
        raise InvalidInput(errors)
    now = now or timezone.now()
    lines = list(OrderLine.objects.filter(order=order).select_related("unit"))
    line = next((item for item in lines if item.serial_at_sale and
                 serial_normalize(item.serial_at_sale) == scanned), None)
    if line is None:
        sold = ", ".join(f"{item.unit.asset_tag} ({item.serial_at_sale or 'no serial'})" for item in lines)
        other = Unit.objects.filter(serial=scanned).values_list("asset_tag", flat=True).first()
        elsewhere = f"; {scanned} is card {other}" if other else ""
        raise InvalidInput({"scanned_serial": [f"{scanned} did not leave in order {order.pk} (it sold {sold})"
                                               f"{elsewhere}: a different card is not taken back"]})
    closes = return_window_end(order)
    if now > closes:
        raise InvalidInput({"order": [f"the return and warranty window of order {order.pk} closed on "
                                      f"{closes:%Y-%m-%d}"]})
    with transaction.atomic():
        unit = Unit.objects.select_for_update().get(pk=line.unit_id)
        if CardReturn.objects.filter(line=line).exists():
            raise Conflict(f"{unit.asset_tag} is back already (order {order.pk})")
        if unit.state != UnitState.SOLD:
            raise Conflict(f"{unit.asset_tag} is {unit.state}, not sold")
        taken_back = CardReturn.objects.create(line=line, reason=reason, scanned_serial=scanned, notes=notes,
                                               refund=amounts["refund"], cost=amounts["cost"], received_at=now,
                                               received_by=actor)
        unit_transition(unit=unit, to_state=UnitState.RETURNED, actor=actor, actor_label=actor_label,
                        reason=f"returned from order {order.pk}: {ReturnReason(reason).label}", mover=Mover.LISTING)
    return taken_back

"""Listings: create, publish, withdraw and sell, each in one transaction that locks the cards' rows first (in id
order), then the listings: two sales of overlapping sets queue on their shared cards and cannot deadlock. A card may
be offered on several channels at once and sells once: selling withdraws its other listings in the same transaction.
The first active listing moves a certified card to `listed`; a card withdrawn from its last channel goes back to
`certified`. A card that leaves sale any other way (its certificate revoked or superseded) takes its listings off
every channel (`listings_follow_move`)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput
from inventory import events
from inventory.choices import UnitState
from inventory.lifecycle import Mover
from inventory.models import Unit
from inventory.services import unit_decide, unit_event_record, unit_transition
from inventory.validators import MONEY_MAX, currency_codes

from .choices import OPEN_STATUSES, WARRANTY_DAYS, Channel, ListingStatus
from .models import ListedUnit, Listing

LISTABLE_STATES = (UnitState.CERTIFIED, UnitState.LISTED)
MAX_SET = 8


def _locked_units(listing: Listing) -> list[Unit]:
    ids = sorted(listing.items.values_list("unit_id", flat=True))
    return list(Unit.objects.select_for_update().filter(pk__in=ids).order_by("pk"))


def _open_listings_of(units: list[Unit]):
    """The draft and active listings of any of `units`, locked, in id order. (PostgreSQL refuses FOR UPDATE with
    DISTINCT: the listings are picked by id.)"""
    ids = ListedUnit.objects.filter(unit__in=units).values("listing_id")
    return Listing.objects.select_for_update().filter(pk__in=ids, status__in=OPEN_STATUSES).order_by("pk")


def _locked_listing(listing: Listing) -> Listing:
    return Listing.objects.select_for_update().get(pk=listing.pk)


def listing_create(*, units: list[Unit], channel: str, title: str, price, currency: str, description: str = "",
                   warranty_days: int = 30, return_days: int = 30) -> Listing:
    """A draft listing of one certified card, or of a set of up to MAX_SET. All or nothing: every problem is named."""
    errors: dict[str, list[str]] = {}
    if channel not in Channel.values:
        errors["channel"] = [f"{channel!r} is not a channel; channels are: {', '.join(Channel.values)}"]
    if not (title or "").strip():
        errors["title"] = ["a title is required"]
    try:
        amount = Decimal(str(price))
        if not amount.is_finite() or amount < 0 or amount > MONEY_MAX or amount != amount.quantize(Decimal("0.01")):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["price"] = [f"{price!r} is not an amount from 0 to {MONEY_MAX} with at most 2 decimals"]
    if currency not in currency_codes():
        errors["currency"] = [f"{currency!r} is not an ISO 4217 currency code"]
    if warranty_days not in WARRANTY_DAYS:
        errors["warranty_days"] = [f"offered warranties are {', '.join(map(str, WARRANTY_DAYS))} days"]
    if not 1 <= len(units) <= MAX_SET or len({u.pk for u in units}) != len(units):
        errors["units"] = [f"a listing offers 1 to {MAX_SET} different cards"]
    with transaction.atomic():
        locked = list(Unit.objects.select_for_update().filter(pk__in=[u.pk for u in units]).order_by("pk"))
        not_listable = [f"{u.asset_tag} is {u.state}; only certified cards are listed" for u in locked
                        if u.state not in LISTABLE_STATES]
        if not_listable:
            errors.setdefault("units", []).extend(not_listable)
        if errors:
            raise InvalidInput(errors)
        listing = Listing.objects.create(channel=channel, title=title.strip(), description=description,
                                         price=amount, currency=currency, warranty_days=warranty_days,
                                         return_days=return_days)
        ListedUnit.objects.bulk_create([ListedUnit(listing=listing, unit=u) for u in locked])
    return listing


def listing_publish(*, listing: Listing, actor=None, actor_label: str = "") -> Listing:
    """Make a draft active. Each card moves to `listed` (its first active listing) or notes the new channel."""
    with transaction.atomic():
        units = _locked_units(listing)  # the cards first, then the listing: the one lock order everywhere
        locked = _locked_listing(listing)
        if locked.status != ListingStatus.DRAFT:
            raise Conflict(f"listing {locked.pk} is {locked.status}; only a draft is published")
        refused = [f"{u.asset_tag} is {u.state}" for u in units if u.state not in LISTABLE_STATES]
        if refused:
            raise InvalidInput({"units": refused})
        locked.status, locked.published_at = ListingStatus.ACTIVE, timezone.now()
        locked.save(update_fields=["status", "published_at"])
        event = events.listing_published(listing_id=locked.pk, channel=locked.channel)
        reason = f"listed on {locked.get_channel_display()} (listing {locked.pk})"
        for unit in units:  # listed already (on another channel): the event, without a move
            unit_decide(unit=unit, to_state=UnitState.LISTED, event=event, reason=reason, actor=actor,
                        actor_label=actor_label, mover=Mover.LISTING)
    listing.refresh_from_db()
    return listing


def _end(listing: Listing, units: list[Unit], status: str, why: str, *, actor=None, actor_label: str = "") -> None:
    """End an open listing (withdrawn, or sold elsewhere): a card with no other active listing goes back to
    certified. `listing` and `units` are locked by the caller."""
    was_active = listing.status == ListingStatus.ACTIVE
    listing.status, listing.ended_at, listing.end_reason = status, timezone.now(), why[:200]
    listing.save(update_fields=["status", "ended_at", "end_reason"])
    if not was_active:
        return
    event = events.listing_withdrawn(listing_id=listing.pk, channel=listing.channel)
    reason = f"withdrawn from {listing.get_channel_display()} (listing {listing.pk}): {why}"
    for unit in units:
        still_listed = Listing.objects.filter(items__unit=unit, status=ListingStatus.ACTIVE).exists()
        back = UnitState.CERTIFIED if unit.state == UnitState.LISTED and not still_listed else None
        unit_decide(unit=unit, to_state=back, event=event, reason=reason, actor=actor, actor_label=actor_label,
                    mover=Mover.LISTING)


def listing_withdraw(*, listing: Listing, reason: str, actor=None, actor_label: str = "") -> Listing:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": ["a reason is required to withdraw a listing"]})
    with transaction.atomic():
        units = _locked_units(listing)  # the cards first, then the listing: the one lock order everywhere
        locked = _locked_listing(listing)
        if locked.status not in OPEN_STATUSES:
            raise Conflict(f"listing {locked.pk} is {locked.status}; only a draft or active listing is withdrawn")
        _end(locked, units, ListingStatus.WITHDRAWN, reason, actor=actor, actor_label=actor_label)
    listing.refresh_from_db()
    return listing


def listing_sell(*, listing: Listing, actor=None, actor_label: str = "") -> Listing:
    """Sell an active listing: every card in it moves to `sold`, and every other open listing of any of them, on
    any channel, is withdrawn in the same transaction. A card sells once: a second sale of it is a 409."""
    with transaction.atomic():
        units = _locked_units(listing)  # the cards first, then the listing: the one lock order everywhere
        locked = _locked_listing(listing)
        if locked.status != ListingStatus.ACTIVE:
            raise Conflict(f"listing {locked.pk} is {locked.status}; only an active listing sells")
        sold = [u.asset_tag for u in units if u.state != UnitState.LISTED]
        if sold:
            raise Conflict(f"not for sale any more: {', '.join(sold)}")
        locked.status, locked.ended_at = ListingStatus.SOLD, timezone.now()
        locked.save(update_fields=["status", "ended_at"])
        others = list(_open_listings_of(units).exclude(pk=locked.pk))
        why = f"sold on {locked.get_channel_display()} (listing {locked.pk})"
        for other in others:
            other_units = [u for u in _locked_units(other) if u.pk not in {s.pk for s in units}]
            _end(other, other_units, ListingStatus.WITHDRAWN, why, actor=actor, actor_label=actor_label)
        event = events.sold(listing_id=locked.pk, channel=locked.channel, price=str(locked.price),
                            currency=locked.currency)
        for unit in units:
            unit_transition(unit=unit, to_state=UnitState.SOLD, actor=actor, actor_label=actor_label, reason=why,
                            event=event, mover=Mover.LISTING)
    listing.refresh_from_db()
    return listing


def listings_follow_move(*, unit: Unit, from_state: str, to_state: str, reason: str, actor, actor_label: str,
                         record) -> None:
    """A lifecycle listener: a card that leaves sale other than by selling (its certificate revoked, superseded, a
    hold) takes its open listings off every channel, in the same transaction, with an event per listing."""
    if from_state not in LISTABLE_STATES or to_state in LISTABLE_STATES or to_state == UnitState.SOLD:
        return  # only a certified or listed card has listings, and selling ends them itself
    open_listings = list(_open_listings_of([unit]))
    for listing in open_listings:
        # The other cards of a set go back to certified if this was their last active listing.
        others = [u for u in _locked_units(listing) if u.pk != unit.pk]
        _end(listing, others, ListingStatus.WITHDRAWN, f"card {unit.asset_tag} moved to {to_state}: {reason}",
             actor_label="lifecycle")
        unit_event_record(unit=unit, event=events.listing_withdrawn(listing_id=listing.pk, channel=listing.channel),
                          reason=f"listing {listing.pk} withdrawn: the card moved to {to_state}",
                          actor_label="lifecycle", mover=Mover.LISTING)

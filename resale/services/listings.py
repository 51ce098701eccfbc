"""Listings: create, publish, withdraw and sell, each in one transaction that locks the cards' rows first (in id
order), then the listings: two sales of overlapping sets queue on their shared cards and cannot deadlock. A card may
be offered on several channels at once and sells once: selling withdraws its other listings in the same transaction.
The first active listing moves a certified card to `listed`; a card withdrawn from its last channel goes back to
`certified`. A card that leaves sale any other way (its certificate revoked or superseded) takes its listings off
every channel (`listings_follow_move`)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput
from grading.services import verify_url
from inventory import events
from inventory.choices import UnitState
from inventory.lifecycle import Mover
from inventory.models import Unit
from inventory.services import unit_decide, unit_event_record, unit_transition
from inventory.validators import currency_codes, money_parse, text_problem

from ..choices import OPEN_STATUSES, WARRANTY_DAYS, Channel, ListingStatus, SetStatus
from ..listing_text import TITLE_MAX, listing_description, listing_title
from ..models import ListedUnit, Listing, MatchedSet, Order, OrderLine
from ..pricing import fees_at
from ..selectors import CardFacts, cards_facts
from .pricing import below_floor_allowed, listing_quote, price_change_record, pricing_rules_current
from .sets import set_end

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


CONDITION_KEYS = {"ebay": "ebay", "backmarket": "backmarket", "google": "google_shopping"}


def _condition(cards: list[CardFacts], channel: str) -> dict:
    """The channel's condition from the grading policy, for the worst-graded card of the listing ({} for channels
    that take none)."""
    key = CONDITION_KEYS.get(channel)
    worst = max(cards, key=lambda c: (c.functional, c.cosmetic))
    return dict((worst.marketplace or {}).get(key) or {}) if key else {}


def _store_facts(cards: list[CardFacts]) -> dict:
    """What the storefront filters on, from the cards: the worst grade, the slowest card, what fits on every card."""
    worst = max(cards, key=lambda c: (c.functional, c.cosmetic))
    bandwidths = [c.figures.get("memory_bandwidth_gbs") for c in cards]
    fits = [c.ai.get("largest_model_billions") or {} for c in cards]
    decodes = [((c.ai.get("measured") or {}).get("decode_tokens_per_s") or {}).get("7B_fp16") for c in cards]

    def least(precision):
        values = [f.get(precision) for f in fits]
        return min(values) if values and all(isinstance(v, (int, float)) for v in values) else None

    return {"gpu_model": cards[0].gpu_model, "card_count": len(cards), "vram_gib": cards[0].gpu_model.vram_gib,
            "functional": worst.functional, "cosmetic": worst.cosmetic,
            "bandwidth_gbs": min(bandwidths) if all(isinstance(b, (int, float)) for b in bandwidths) else None,
            "fits_fp16_b": least("fp16"), "fits_int8_b": least("int8"), "fits_int4_b": least("int4"),
            "decode_7b_fp16_tps": min(decodes) if decodes and all(isinstance(d, (int, float)) for d in decodes)
            else None}


def _money(value, errors: dict, field: str):
    try:
        return money_parse(str(value))
    except ValueError as exc:
        errors[field] = [str(exc)]
        return None


def listing_create(*, units: list[Unit] | None = None, matched_set: MatchedSet | None = None, channel: str,
                   title: str = "", price=None, currency: str = "", description: str = "", warranty_days: int = 30,
                   return_days: int = 30, reason: str = "", actor=None, actor_label: str = "") -> Listing:
    """A draft listing of one certified card, a matched set, or up to MAX_SET cards. All or nothing: every problem
    is named. Left blank, the title and description are written from the grade and the measured figures, and the
    price is the suggested one; a price under the floor needs an admin and a reason. The currency is that of the
    cards' costs (not converted), where they have one."""
    errors: dict[str, list[str]] = {}
    if matched_set is not None:
        units = list(Unit.objects.filter(set_memberships__matched_set=matched_set))
        if matched_set.status != SetStatus.OPEN:
            errors["matched_set"] = [f"set {matched_set.pk} is {matched_set.status}"]
    units = list(units or [])
    if channel not in Channel.values:
        errors["channel"] = [f"{channel!r} is not a channel; channels are: {', '.join(Channel.values)}"]
    if warranty_days not in WARRANTY_DAYS:
        errors["warranty_days"] = [f"offered warranties are {', '.join(map(str, WARRANTY_DAYS))} days"]
    if not isinstance(return_days, int) or not 0 <= return_days <= 365:
        errors["return_days"] = ["a return window of 0 to 365 days"]
    if not 1 <= len(units) <= MAX_SET or len({u.pk for u in units}) != len(units):
        errors["units"] = [f"a listing offers 1 to {MAX_SET} different cards"]
    amount = None if price in (None, "") else _money(price, errors, "price")
    for field, text, limit, multiline in (("title", title, TITLE_MAX, False),
                                          ("description", description, 20_000, True)):
        problem = text_problem(text or "", multiline=multiline)
        if problem or len(text or "") > limit:
            errors[field] = [problem or f"at most {limit} characters"]
    with transaction.atomic():
        locked = list(Unit.objects.select_for_update().filter(pk__in=[u.pk for u in units]).order_by("pk"))
        facts = cards_facts([u.pk for u in locked])
        cards = [facts[u.pk] for u in locked]
        not_listable = [f"{u.asset_tag} is {u.state}; only certified cards are listed" for u in locked
                        if u.state not in LISTABLE_STATES]
        if not_listable:
            errors.setdefault("units", []).extend(not_listable)
        if len({c.gpu_model.pk for c in cards}) > 1:
            errors.setdefault("units", []).append("a listing of several cards is one model (a matched set)")
        costed = sorted({c.currency for c in cards if c.cost_basis})
        currency = (currency or (costed[0] if costed else settings.REFURB_DEFAULT_CURRENCY)).upper()
        if currency not in currency_codes():
            errors["currency"] = [f"{currency!r} is not an ISO 4217 currency code"]
        elif costed and costed != [currency]:
            errors["currency"] = [f"the cards' costs are in {', '.join(costed)}; list in that currency (costs are "
                                  "not converted)"]
        if errors or not cards:
            raise InvalidInput(errors)
        quote = listing_quote(cards, channel=channel, currency=currency)
        if amount is None:
            if quote.suggested is None:
                raise InvalidInput({"price": [quote.why_no_suggestion or "give a price"]})
            amount = quote.suggested
        refused = below_floor_allowed(price=amount, floor=quote.floor, actor=actor, reason=reason)
        if refused:
            raise InvalidInput({"price": refused})
        spread = float(matched_set.spread) if matched_set is not None else None
        title = (title or "").strip() or listing_title(cards, spread=spread, warranty_days=warranty_days)
        description = description or listing_description(
            cards, verify_url=verify_url, spread=spread, warranty_days=warranty_days, return_days=return_days,
            issuer=settings.REFURB_ISSUER)
        listing = Listing(channel=channel, title=title, description=description, price=amount, currency=currency,
                          warranty_days=warranty_days, return_days=return_days, matched_set=matched_set,
                          condition=_condition(cards, channel), pricing_version=quote.version,
                          suggested_price=quote.suggested, floor_price=quote.floor, cost=quote.cost,
                          **_store_facts(cards))
        try:
            listing.full_clean(exclude=["units"])
        except ValidationError as exc:
            raise InvalidInput(exc.message_dict) from None
        listing.save()
        ListedUnit.objects.bulk_create([ListedUnit(listing=listing, unit=u) for u in locked])
        price_change_record(listing=listing, from_price=None, to_price=amount, floor=quote.floor,
                            reason=reason or ("suggested price" if amount == quote.suggested else "listed"),
                            actor=actor, actor_label=actor_label)
    return listing


EDITABLE = ("title", "description", "external_id", "image_url")


def listing_update(*, listing: Listing, actor=None, **changes) -> Listing:
    """Edit an open listing's text, channel id or photo (the price has its own service and history). Every bad
    field named; a sold or withdrawn listing is not edited."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput({name: ["not editable here"] for name in unknown})
    with transaction.atomic():
        locked = _locked_listing(listing)
        if locked.status not in OPEN_STATUSES:
            raise Conflict(f"listing {locked.pk} is {locked.status}; only a draft or active listing is edited")
        for name, value in changes.items():
            setattr(locked, name, (value or "").strip() if name != "description" else (value or ""))
        if "title" in changes and not locked.title:
            raise InvalidInput({"title": ["a title is required (or regenerate it)"]})
        if len(locked.title) > TITLE_MAX:
            raise InvalidInput({"title": [f"at most {TITLE_MAX} characters"]})
        try:
            locked.full_clean(exclude=["units"])
        except ValidationError as exc:
            raise InvalidInput(exc.message_dict) from None
        locked.save(update_fields=list(changes))
    listing.refresh_from_db()
    return listing


def listing_text_regenerate(*, listing: Listing) -> Listing:
    """Write the title and description again from today's grade and figures (after an edit, or a regrade)."""
    with transaction.atomic():
        locked = _locked_listing(listing)
        facts = cards_facts(locked.items.values_list("unit_id", flat=True))
        cards = [facts[i] for i in sorted(facts)]
        spread = float(locked.matched_set.spread) if locked.matched_set_id else None
        locked.title = listing_title(cards, spread=spread, warranty_days=locked.warranty_days)
        locked.description = listing_description(cards, verify_url=verify_url, spread=spread,
                                                 warranty_days=locked.warranty_days,
                                                 return_days=locked.return_days, issuer=settings.REFURB_ISSUER)
        locked.save(update_fields=["title", "description"])
    listing.refresh_from_db()
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


def listing_sell(*, listing: Listing, price_paid=None, fees=None, shipping=0, buyer_reference: str = "",
                 sold_at=None, actor=None, actor_label: str = "") -> Order:
    """Sell an active listing: an order records it (price paid, fees, shipping, the serials that left), every card
    in it moves to `sold`, and every other open listing of any of them, on any channel, is withdrawn in the same
    transaction; a matched set sold is closed, and any other set of its cards dissolved. A card sells once: a second
    sale of it is a 409. Left out, the price paid is the listing's and the fees are the channel's by the rules."""
    errors: dict[str, list[str]] = {}
    paid = None if price_paid in (None, "") else _money(price_paid, errors, "price_paid")
    fee = None if fees in (None, "") else _money(fees, errors, "fees")
    carriage = _money(shipping or 0, errors, "shipping")
    buyer_reference = (buyer_reference or "").strip()
    if len(buyer_reference) > 100 or text_problem(buyer_reference, multiline=False):
        errors["buyer_reference"] = [text_problem(buyer_reference, multiline=False) or "at most 100 characters"]
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        units = _locked_units(listing)  # the cards first, then the listing: the one lock order everywhere
        locked = _locked_listing(listing)
        if locked.status != ListingStatus.ACTIVE:
            raise Conflict(f"listing {locked.pk} is {locked.status}; only an active listing sells")
        sold = [u.asset_tag for u in units if u.state != UnitState.LISTED]
        if sold:
            raise Conflict(f"not for sale any more: {', '.join(sold)}")
        paid = locked.price if paid is None else paid
        fee = fees_at(pricing_rules_current(), locked.channel, paid) if fee is None else fee
        locked.status, locked.ended_at = ListingStatus.SOLD, timezone.now()
        locked.save(update_fields=["status", "ended_at"])
        order = Order.objects.create(listing=locked, channel=locked.channel, buyer_reference=buyer_reference,
                                     price_paid=paid, fees=fee, shipping=carriage, currency=locked.currency,
                                     sold_at=sold_at or timezone.now(), recorded_by=actor)
        OrderLine.objects.bulk_create([OrderLine(order=order, unit=u, serial_at_sale=u.serial,
                                                 cost_basis=u.cost_basis) for u in units])
        others = list(_open_listings_of(units).exclude(pk=locked.pk))
        why = f"sold on {locked.get_channel_display()} (listing {locked.pk})"
        for other in others:
            other_units = [u for u in _locked_units(other) if u.pk not in {s.pk for s in units}]
            _end(other, other_units, ListingStatus.WITHDRAWN, why, actor=actor, actor_label=actor_label)
        for matched in MatchedSet.objects.filter(members__unit__in=units, status=SetStatus.OPEN).distinct():
            set_end(matched, SetStatus.SOLD if matched.pk == locked.matched_set_id else SetStatus.DISSOLVED, why)
        event = events.sold(listing_id=locked.pk, channel=locked.channel, price=str(paid), currency=locked.currency)
        for unit in units:
            unit_transition(unit=unit, to_state=UnitState.SOLD, actor=actor, actor_label=actor_label, reason=why,
                            event=event, mover=Mover.LISTING)
    listing.refresh_from_db()
    return order


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
    for matched in MatchedSet.objects.filter(members__unit=unit, status=SetStatus.OPEN):
        set_end(matched, SetStatus.DISSOLVED, f"card {unit.asset_tag} moved to {to_state}")

"""Exports of listings to the channels' files, and the channels' sale/status files read back. The file formats are
resale/exports.py's; here, which listings go out and what a returned status does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.errors import Conflict, InvalidInput
from grading.services import verify_url
from inventory.errors import IntakeRejected, RowError
from inventory.models import Unit
from inventory.services.sheets import sheet_read_csv
from inventory.validators import money_parse, text_problem

from .. import exports
from ..choices import Channel, ListingStatus
from ..models import EbaySpecific, ListedUnit, Listing, ReferencePrice
from ..selectors import cards_facts
from .listings import listing_sell, listing_withdraw

FORMATS = ("ebay", "google", "backmarket", "json")
# Back Market offers that ended lately go out with quantity 0, so the channel stops selling them.
ENDED_STILL_EXPORTED = timedelta(days=14)


@dataclass(frozen=True)
class ExportFile:
    content: str
    filename: str
    content_type: str
    count: int


def listing_url(listing_id: int) -> str:
    """The listing's page on the storefront (where Google's feed sends a buyer)."""
    return settings.REFURB_PUBLIC_URL + reverse("store-item", args=[listing_id])


def listing_sku(listing: Listing, asset_tags: list[str]) -> str:
    """The seller's own reference for a listing: the asset tag of a single card, the set's number for a set."""
    if len(asset_tags) == 1:
        return asset_tags[0]
    return f"SET-{listing.matched_set_id}" if listing.matched_set_id else f"LISTING-{listing.pk}"


def export_items(listings) -> list[exports.ExportItem]:
    """Listings with their cards' public facts: a fixed number of queries however many listings."""
    listings = list(listings)
    unit_ids: dict[int, list[int]] = {}
    for listing_id, unit_id in (ListedUnit.objects.filter(listing__in=listings).order_by("unit_id")
                                .values_list("listing_id", "unit_id")):
        unit_ids.setdefault(listing_id, []).append(unit_id)
    facts = cards_facts({u for ids in unit_ids.values() for u in ids})
    product_ids = dict(ReferencePrice.objects.values_list("gpu_model_id", "backmarket_product_id"))
    items = []
    for listing in listings:
        cards = tuple(facts[u] for u in unit_ids.get(listing.pk, []))
        if not cards:
            continue
        items.append(exports.ExportItem(
            listing_id=listing.pk, status=listing.status,
            sku=listing_sku(listing, [c.asset_tag for c in cards]), title=listing.title,
            description=listing.description, price=listing.price, currency=listing.currency,
            condition=listing.condition, warranty_days=listing.warranty_days, return_days=listing.return_days,
            image_url=listing.image_url, url=listing_url(listing.pk), cards=cards,
            spread=float(listing.matched_set.spread) if listing.matched_set_id else None,
            backmarket_product_id=product_ids.get(cards[0].gpu_model.pk, "")))
    return items


def _listings_for(fmt: str, channel: str | None):
    listings = Listing.objects.select_related("matched_set").order_by("pk")
    if fmt == "ebay":  # drafts to upload: the open listings on eBay
        return listings.filter(channel=Channel.EBAY, status__in=(ListingStatus.DRAFT, ListingStatus.ACTIVE))
    if fmt == "google":
        return listings.filter(channel=Channel.GOOGLE, status=ListingStatus.ACTIVE)
    if fmt == "backmarket":
        recent = timezone.now() - ENDED_STILL_EXPORTED
        return listings.filter(channel=Channel.BACKMARKET).filter(
            status=ListingStatus.ACTIVE) | listings.filter(
            channel=Channel.BACKMARKET, status__in=(ListingStatus.SOLD, ListingStatus.WITHDRAWN), ended_at__gte=recent)
    active = listings.filter(status=ListingStatus.ACTIVE)
    return active.filter(channel=channel) if channel else active


def listings_export(*, fmt: str, channel: str | None = None) -> ExportFile:
    """A channel's file of its listings: `fmt` ebay, google, backmarket or json (json: every channel's active
    listings, or `channel`'s)."""
    if fmt not in FORMATS:
        raise InvalidInput({"channel": [f"{fmt!r} is not an export; exports are: {', '.join(FORMATS)}"]})
    if channel is not None and channel not in Channel.values:
        raise InvalidInput({"channel": [f"{channel!r} is not a channel; channels are: {', '.join(Channel.values)}"]})
    items = export_items(_listings_for(fmt, channel))
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    if fmt == "ebay":
        currencies = sorted({i.currency for i in items})
        if len(currencies) > 1:
            raise InvalidInput({"currency": [f"the eBay listings are in {', '.join(currencies)}; one upload is in "
                                             "one currency: withdraw or reprice the others"]})
        specifics = list(EbaySpecific.objects.values_list("column", "source"))
        content = exports.ebay_csv(items, specifics=specifics, site_id=settings.REFURB_EBAY_SITE_ID,
                                   country=settings.REFURB_EBAY_COUNTRY,
                                   currency=currencies[0] if currencies else settings.REFURB_DEFAULT_CURRENCY)
        return ExportFile(content, f"ebay-drafts-{stamp}.csv", "text/csv; charset=utf-8", len(items))
    if fmt == "google":
        return ExportFile(exports.google_tsv(items), f"google-feed-{stamp}.tsv",
                          "text/tab-separated-values; charset=utf-8", len(items))
    if fmt == "backmarket":
        return ExportFile(exports.backmarket_csv(items), f"backmarket-{stamp}.csv", "text/csv; charset=utf-8",
                          len(items))
    return ExportFile(exports.json_feed(items, verify_url=verify_url), f"listings-{stamp}.json",
                      "application/json", len(items))


# --- a channel's sale/status file, read back ---------------------------------------------------------------------

SALE_COLUMNS = ("external_id", "sku", "status", "price", "fees", "shipping", "date", "buyer_reference")
SALE_STATUSES = {"sold": "sold", "withdrawn": "withdrawn", "ended": "withdrawn", "active": "active"}


@dataclass(frozen=True)
class SaleLine:
    line: int
    listing: Listing
    status: str
    price: object
    fees: object
    shipping: object
    sold_at: datetime | None
    buyer_reference: str
    external_id: str


def _when(text: str) -> datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    moment = parse_datetime(text)
    if moment is None and (day := parse_date(text)) is not None:
        moment = datetime.combine(day, time(12))
    if moment is None:
        raise ValueError(f"{text!r} is not a date (2026-12-04 or 2026-12-04T15:30:00Z)")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    if moment > timezone.now() + timedelta(days=1):
        raise ValueError(f"{text} is in the future")
    return moment


def _sale_lines(channel: str, content) -> list[SaleLine]:
    sheet = sheet_read_csv(content, columns=SALE_COLUMNS, required=("status",),
                           decimal_columns=("price", "fees", "shipping"))
    errors: list[RowError] = []
    open_listings = list(Listing.objects.filter(channel=channel).exclude(status=ListingStatus.DRAFT)
                         .prefetch_related("items__unit"))
    by_external = {lst.external_id: lst for lst in open_listings if lst.external_id}
    by_sku: dict[str, list[Listing]] = {}
    for listing in open_listings:
        tags = [item.unit.asset_tag for item in listing.items.all()]
        by_sku.setdefault(listing_sku(listing, tags), []).append(listing)
    lines, seen = [], {}
    for row in sheet.rows:
        v = {k: (val or "").strip() for k, val in row.values.items()}
        before = len(errors)
        status = SALE_STATUSES.get(v.get("status", "").lower())
        if status is None:
            errors.append(RowError(row.line, "status", f"{v.get('status')!r}: one of {', '.join(SALE_STATUSES)}"))
        external, sku = v.get("external_id", ""), v.get("sku", "")
        for field, text in (("external_id", external), ("sku", sku), ("buyer_reference", v.get("buyer_reference",
                                                                                               ""))):
            if problem := text_problem(text):
                errors.append(RowError(row.line, field, problem))
        listing = by_external.get(external) if external else None
        if listing is None and sku:
            candidates = by_sku.get(sku, [])
            # The listing that is still on offer, else the one that ended last (a line repeated after its sale).
            listing = next((c for c in candidates if c.status == ListingStatus.ACTIVE), None) or \
                (max(candidates, key=lambda c: c.pk) if candidates else None)
        if listing is None and not any(e.line == row.line for e in errors):
            what = f"external id {external!r}" if external else f"SKU {sku!r}" if sku else "no external_id or sku"
            errors.append(RowError(row.line, "external_id" if external else "sku",
                                   f"{what}: no {Channel(channel).label} listing has it"))
        amounts = {}
        for field in ("price", "fees", "shipping"):
            try:
                amounts[field] = money_parse(v[field]) if v.get(field) else None
            except ValueError as exc:
                errors.append(RowError(row.line, field, str(exc)))
        try:
            sold_at = _when(v.get("date", ""))
        except ValueError as exc:
            errors.append(RowError(row.line, "date", str(exc)))
        if listing is not None and len(errors) == before:
            if listing.pk in seen:
                errors.append(RowError(row.line, "row", f"listing {listing.pk} is on line {seen[listing.pk]} too"))
                continue
            seen[listing.pk] = row.line
            lines.append(SaleLine(row.line, listing, status, amounts["price"], amounts["fees"], amounts["shipping"],
                                  sold_at, v.get("buyer_reference", "")[:100], external))
    if errors:
        raise IntakeRejected(errors)
    return lines


def sales_import(*, channel: str, content, actor=None, actor_label: str = "") -> dict[str, int]:
    """A channel's sale/status CSV (external_id or sku, status sold|withdrawn|ended|active, price, fees, shipping,
    date, buyer_reference): all or nothing, every bad line named. A sold line sells its listing (withdrawing the
    card's other listings); a line for a listing sold already by this same channel is skipped; a card sold
    elsewhere meanwhile refuses the file. Returns counts by what was done."""
    if channel not in Channel.values:
        raise InvalidInput({"channel": [f"{channel!r} is not a channel; channels are: {', '.join(Channel.values)}"]})
    lines = _sale_lines(channel, content)
    done = {"sold": 0, "withdrawn": 0, "unchanged": 0}
    errors: list[RowError] = []
    with transaction.atomic():
        # Every card of the file locked first, in id order: two imports (or a sale in the admin) touching the same
        # cards queue on them instead of deadlocking, and each sees the other's outcome.
        ids = ListedUnit.objects.filter(listing__in=[s.listing for s in lines]).values("unit_id")
        list(Unit.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        for sale in lines:
            listing = Listing.objects.get(pk=sale.listing.pk)
            try:
                if sale.status == "sold" and listing.status == ListingStatus.SOLD:
                    done["unchanged"] += 1
                elif sale.status == "sold":
                    listing_sell(listing=listing, price_paid=sale.price, fees=sale.fees, shipping=sale.shipping,
                                 buyer_reference=sale.buyer_reference, sold_at=sale.sold_at, actor=actor,
                                 actor_label=actor_label)
                    done["sold"] += 1
                elif sale.status == "withdrawn" and listing.status in (ListingStatus.ACTIVE,):
                    listing_withdraw(listing=listing, reason=f"ended on {Channel(channel).label}", actor=actor,
                                     actor_label=actor_label)
                    done["withdrawn"] += 1
                else:
                    done["unchanged"] += 1
                if sale.external_id and listing.external_id != sale.external_id:
                    Listing.objects.filter(pk=listing.pk).update(external_id=sale.external_id[:64])
            except (Conflict, InvalidInput) as exc:
                errors.append(RowError(sale.line, "status", str(exc)))
        if errors:
            transaction.set_rollback(True)
    if errors:
        raise IntakeRejected(errors)
    return done

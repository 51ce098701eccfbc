"""python manage.py demo_resale: the end of `make run`: the demo's certified cards on the storefront (a matched set
where the stock allows), one also on eBay, one sold and one returned, so that every resale screen has data. Safe to
rerun: it does nothing once the demo's sale exists."""

from pathlib import Path

from django.core.management.base import BaseCommand

from core.errors import DomainError
from inventory.choices import UnitState
from inventory.models import Unit
from resale.models import Order, ReferencePrice
from resale.services import (
    listing_create,
    listing_publish,
    listing_sell,
    reference_prices_import,
    return_receive,
    set_create,
    sets_propose,
)

DEMO_PRICES = Path(__file__).resolve().parents[2] / "data" / "reference_prices.csv"
DEMO_BUYER = "DEMO-ORDER"


class Command(BaseCommand):
    help = "List the demo's certified cards on the storefront, sell one and take one back (for `make run`)."

    def handle(self, *args, **options):
        if Order.objects.filter(buyer_reference__startswith=DEMO_BUYER).exists():
            self.stdout.write("Demo sales already present.")
            return
        if not ReferencePrice.objects.exists():
            created, _ = reference_prices_import(DEMO_PRICES.read_bytes())
            self.stdout.write(f"Reference prices: {created} demo figures ({DEMO_PRICES.name}).")
        for proposal in sets_propose()[:1]:
            matched = set_create(units=list(Unit.objects.filter(pk__in=proposal.unit_ids)))
            listing = listing_publish(listing=listing_create(matched_set=matched, channel="storefront",
                                                             actor_label="demo"), actor_label="demo")
            self.stdout.write(f"  matched set {matched.pk}: {listing.title} at {listing.price} {listing.currency}")
        singles = []
        for unit in Unit.objects.filter(state=UnitState.CERTIFIED).order_by("asset_tag"):
            try:
                listing = listing_publish(listing=listing_create(units=[unit], channel="storefront",
                                                                 actor_label="demo"), actor_label="demo")
            except DomainError as exc:
                self.stdout.write(f"  {unit.asset_tag} not listed: {exc}")
                continue
            singles.append(listing)
            self.stdout.write(f"  {unit.asset_tag}: {listing.title} at {listing.price} {listing.currency}")
        if singles:
            ebay = listing_create(units=[singles[0].items.get().unit], channel="ebay", actor_label="demo")
            self.stdout.write(f"  also an eBay draft: listing {ebay.pk} (manage.py export_listings --channel ebay)")
        # Sold: two cards that have a serial (a return is checked against it), leaving the first one on offer.
        with_serial = [listing for listing in singles[1:] if listing.items.get().unit.serial]
        if len(with_serial) >= 2:
            listing_sell(listing=with_serial[0], buyer_reference=f"{DEMO_BUYER}-1", shipping="9.90",
                         actor_label="demo")
            order = listing_sell(listing=with_serial[1], buyer_reference=f"{DEMO_BUYER}-2", shipping="9.90",
                                 actor_label="demo")
            unit = with_serial[1].items.get().unit
            return_receive(order=order, scanned_serial=unit.serial, reason="fan_noise", refund=order.price_paid,
                           cost="12.00", notes="demo: buyer heard a rattle", actor_label="demo")
            self.stdout.write(f"  sold {with_serial[0].items.get().unit.asset_tag}; sold and took back "
                              f"{unit.asset_tag} (fan noise)")
        self.stdout.write(self.style.SUCCESS(f"{len(singles)} card(s) listed on the storefront: /store/"))

"""Marketplace exports read back with the csv module (formula injection neutralised, commas, quotes, line breaks and
non-ASCII intact), and a channel's sale file read in: all or nothing, every bad line named, a card sold once."""

import csv
import io
import json
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inventory.choices import UnitState
from inventory.errors import IntakeRejected
from resale.choices import ListingStatus
from resale.exports import cell
from resale.models import EbaySpecific, Listing, Order
from resale.services import listing_create, listing_publish, set_create
from resale.services.exports import listings_export, sales_import

HOSTILE_TITLE = '=HYPERLINK("http://evil.example","x"), "RTX" Grafikkarte — geprüft ✓'
HOSTILE_DESCRIPTION = '@SUM(1+1)\n-2+3, with "quotes", commas\n+cmd|\' /C calc\'!A0\nüber 90 °C? nein.'


def offer(units, channel, **fields):
    fields.setdefault("price", "499.00")
    return listing_publish(listing=listing_create(units=units, channel=channel, **fields))


def rows_of(content, delimiter=","):
    return list(csv.reader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True))


def test_a_cell_that_a_spreadsheet_would_evaluate_is_text():
    for lead in ("=", "+", "-", "@", "\t", "\r"):
        assert cell(f"{lead}1+1") == f"'{lead}1+1"
    assert cell("RTX 3080") == "RTX 3080" and cell(Decimal("1.50")) == "1.50" and cell(None) == ""
    assert cell(Decimal("-12.50")) == "-12.50" and cell("-12.50") == "'-12.50"  # a number is not a formula


@pytest.mark.django_db
def test_the_ebay_upload_reads_back_with_every_cell_safe(certified):
    if not EbaySpecific.objects.exists():  # a transactional test before this one flushed the migration's rows
        from importlib import import_module

        defaults = import_module("resale.migrations.0003_ebay_specifics_default").DEFAULTS
        EbaySpecific.objects.bulk_create([EbaySpecific(column=c, source=s, position=i)
                                          for i, (c, s) in enumerate(defaults)])
    (card,) = certified()
    listing = offer([card], "ebay", title=HOSTILE_TITLE[:80], description=HOSTILE_DESCRIPTION)
    rows = rows_of(listings_export(fmt="ebay").content)
    assert rows[0][0] == "#INFO" and rows[1][0].startswith("#INFO") and rows[2][0] == "#INFO"
    header = rows[3]
    assert header[0] == "Action(SiteID=US|Country=US|Currency=USD|Version=1193|CC=UTF-8)"
    (row,) = [dict(zip(header, r, strict=True)) for r in rows[4:]]
    assert row[header[0]] == "Draft" and row["Custom label (SKU)"] == card.asset_tag
    assert row["Category ID"] == "27386" and row["Condition ID"] == "2500"
    assert row["Price"] == "499.00" and row["Quantity"] == "1"
    assert row["Title"] == "'" + listing.title and "geprüft ✓" in row["Title"]
    assert row["C:Memory Size"] == "10 GB" and row["C:Chipset/GPU Model"] == "GeForce RTX 3080"
    assert row["C:Brand"] == "MSI" and row["C:Compatible Slot"] == "PCI Express 4.0 x16"
    html = row["Description"]
    assert html.startswith("<p>@SUM(1+1)</p>")  # safe as it stands: the cell starts with "<"
    assert "&quot;quotes&quot;" in html and "über 90 °C? nein." in html
    for text_cell in (c for r in rows for c in r):
        assert not text_cell.startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.django_db
def test_the_google_feed_and_back_market_csv_read_back(certified):
    cards = certified(3)
    offer([cards[0]], "google", title="+RTX 3080, \"quoted\"", description=HOSTILE_DESCRIPTION)
    offer([cards[1]], "google", warranty_days=0)
    offer([cards[2]], "backmarket", warranty_days=365)
    rows = rows_of(listings_export(fmt="google").content, "\t")
    header, body = rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert header[:3] == ["id", "title", "description"]
    first, second = body
    assert first["title"] == "'+RTX 3080, \"quoted\"" and "\n" not in first["description"]
    assert first["description"].startswith("'@SUM(1+1) -2+3, with \"quotes\"")
    assert first["condition"] == "refurbished" and second["condition"] == "used"
    assert first["price"] == "499.00 USD" and first["availability"] == "in_stock"
    assert first["link"].startswith("https://certs.example.test/store/") and first["identifier_exists"] == "no"
    bm_header, *bm_rows = rows_of(listings_export(fmt="backmarket").content)
    (bm,) = [dict(zip(bm_header, r, strict=True)) for r in bm_rows]
    assert (bm["sku"], bm["quantity"], bm["warranty_delay"], bm["grade"], bm["state"], bm["currency"]) == (
        cards[2].asset_tag, "1", "12", "Excellent", "1", "USD")


@pytest.mark.django_db
def test_the_json_feed_and_the_command(certified, tmp_path):
    cards = certified(2)
    matched = set_create(units=cards)
    listing_publish(listing=listing_create(matched_set=matched, channel="storefront", price="900"))
    feed = json.loads(listings_export(fmt="json").content)
    (entry,) = feed["listings"]
    assert entry["sku"] == f"SET-{matched.pk}" and entry["matched_within"] == 0.0 and len(entry["cards"]) == 2
    assert entry["cards"][0]["certificate"].startswith("https://certs.example.test/verify/")
    out = tmp_path / "feed.json"
    call_command("export_listings", "--channel", "json", "--out", str(out))
    assert json.loads(out.read_text())["listings"][0]["id"] == entry["id"]
    with pytest.raises(CommandError):
        call_command("export_listings", "--channel", "amazon", "--out", str(out))


SALES = "sku,status,price,fees,date,buyer_reference\n"


@pytest.mark.django_db
def test_a_sale_file_sells_its_listings_all_or_nothing(certified):
    cards = certified(3)
    ebay = [offer([c], "ebay") for c in cards]
    bad = (SALES + f"{cards[0].asset_tag},sold,450.00,60.00,2026-12-01,EB-1\n"
           f"NOPE-1,sold,1,,,\n{cards[1].asset_tag},shipped,1,,,\n{cards[2].asset_tag},sold,4.5.0,,2099-01-01,\n")
    with pytest.raises(IntakeRejected) as caught:
        sales_import(channel="ebay", content=bad)
    said = {(e.line, e.field) for e in caught.value.errors}
    assert said == {(3, "sku"), (4, "status"), (5, "price"), (5, "date")}
    assert not Order.objects.exists() and Listing.objects.filter(status=ListingStatus.ACTIVE).count() == 3
    good = SALES + f"{cards[0].asset_tag},sold,450.00,60.00,2026-12-01,EB-1\n{cards[1].asset_tag},ended,,,,\n"
    assert sales_import(channel="ebay", content=good) == {"sold": 1, "withdrawn": 1, "unchanged": 0}
    order = Order.objects.get()
    assert (order.price_paid, order.fees, order.buyer_reference) == (Decimal("450.00"), Decimal("60.00"), "EB-1")
    assert order.sold_at.date().isoformat() == "2026-12-01" and order.listing_id == ebay[0].pk
    assert sales_import(channel="ebay", content=good) == {"sold": 0, "withdrawn": 0, "unchanged": 2}  # again


@pytest.mark.django_db
def test_a_card_sold_elsewhere_meanwhile_refuses_the_file(certified):
    (card,) = certified()
    offer([card], "ebay")
    offer([card], "storefront")
    sales_import(channel="storefront", content=SALES + f"{card.asset_tag},sold,499,,,\n")
    with pytest.raises(IntakeRejected, match="line 2, status: listing .* is withdrawn"):
        sales_import(channel="ebay", content=SALES + f"{card.asset_tag},sold,499,,,\n")
    card.refresh_from_db()
    assert card.state == UnitState.SOLD and Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_channels_importing_the_same_sale_at_once_sell_the_card_once(certified):
    cards = certified(2)
    for card in cards:
        offer([card], "ebay")
        offer([card], "backmarket")
    files = {channel: SALES + "".join(f"{c.asset_tag},sold,480,,,\n" for c in cards) for channel in
             ("ebay", "backmarket")}
    barrier, outcomes = threading.Barrier(2), {}

    def run(channel):
        from django.db import connection as own

        barrier.wait()
        try:
            outcomes[channel] = sales_import(channel=channel, content=files[channel])["sold"]
        except IntakeRejected:
            outcomes[channel] = "refused"
        finally:
            own.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes.values(), key=str) == [2, "refused"]
    assert Order.objects.count() == 2 and {o.channel for o in Order.objects.all()} == {
        c for c, n in outcomes.items() if n == 2}

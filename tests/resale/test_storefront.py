"""The public storefront: offers filtered, sorted and paged in a fixed number of queries, each offer's page with what
was measured, and no internal data on any public page or export (planted strings searched for everywhere)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from grading.models import Certificate
from inventory.models import Inspection, Lot, Unit
from resale.models import PriceChange
from resale.services import (
    listing_create,
    listing_price_set,
    listing_publish,
    listing_sell,
    listing_withdraw,
    return_receive,
    set_create,
)
from resale.services.exports import listings_export
from testbench.models import Bench

from .test_sets_and_returns import CLOSE


def offer(units=None, channel="storefront", price="500.00", **fields):
    return listing_publish(listing=listing_create(units=units, channel=channel, price=price, **fields))


def page(path, params=None, status=200):
    response = Client().get(path, params or {})
    assert response.status_code == status, (path, params, response.status_code)
    return response.content.decode()


@pytest.mark.django_db
def test_offers_are_filtered_sorted_and_paged(certified, monkeypatch):
    cards = certified(figures=CLOSE + [(690.0, 44.0), (705.0, 45.0)])
    cheap, dear, mid = offer([cards[0]], price="350.00"), offer([cards[1]], price="650.00"), offer([cards[2]])
    matched = offer(matched_set=set_create(units=cards[3:5]), price="1100.00")
    offer([cards[5]], channel="ebay")  # elsewhere: not on the storefront
    listed = page("/store/")
    assert all(f"/store/{x.pk}/" in listed for x in (cheap, dear, mid, matched)) and "4 offers" in listed
    by_price = page("/store/", {"sort": "price"})
    assert by_price.index(f"/store/{cheap.pk}/") < by_price.index(f"/store/{mid.pk}/") < by_price.index(
        f"/store/{dear.pk}/")
    assert f"/store/{cheap.pk}/" not in page("/store/", {"price_min": "400", "price_max": "700"})
    sets_only = page("/store/", {"sets": "on"})
    assert f"/store/{matched.pk}/" in sets_only and f"/store/{cheap.pk}/" not in sets_only
    assert "1 offer" in page("/store/", {"sets": "on", "fits": "13b-int4", "grade": "F-A", "vram": "10",
                                         "model": "geforce-rtx-3080"})
    assert "0 offers" in page("/store/", {"fits": "70b-int4"}) and "0 offers" in page("/store/", {"vram": "24"})
    assert "the upper price is below the lower one" in page("/store/", {"price_min": "9", "price_max": "1"}, 400)
    assert "Select a valid choice" in page("/store/", {"sort": "cost"}, 400)
    monkeypatch.setattr("resale.storefront.PAGE_SIZE", 3)
    second = page("/store/", {"sort": "price", "page": "2"})
    assert "page 2 of 2" in second and f"/store/{matched.pk}/" in second and f"/store/{cheap.pk}/" not in second


@pytest.mark.django_db
def test_a_page_of_offers_costs_the_same_queries_with_more_offers(certified):
    cards = certified(8)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            page("/store/")
        return len(captured)

    offer(cards[:1])
    few = queries()
    for card in cards[1:]:
        offer([card])
    assert queries() == few


@pytest.mark.django_db
def test_an_offer_shows_specs_grade_measurements_chart_ai_and_certificates(certified):
    cards = certified(figures=CLOSE[:2])
    listing = offer(matched_set=set_create(units=cards), price="990.00")
    shown = page(f"/store/{listing.pk}/")
    assert "GeForce RTX 3080" in shown and "GDDR6X" in shown and "990.00 USD" in shown
    assert "matched set" in shown and "0.3%" in shown
    for card in cards:
        certificate = Certificate.objects.get(unit=card, status="valid")
        assert f"/verify/{certificate.public_id}/" in shown
    assert shown.count("<svg") >= 2 and "at INT4" in shown and "grade <b>F-A</b>" in shown.replace("Grade", "grade")
    other = certified(lot="ST-2")
    elsewhere = offer(other, channel="ebay")
    page(f"/store/{elsewhere.pk}/", status=404)
    listing_sell(listing=listing)
    assert "Sold." in page(f"/store/{listing.pk}/", status=410)
    withdrawn = offer(certified(lot="ST-3"))
    listing_withdraw(listing=withdrawn, reason="price check")
    page(f"/store/{withdrawn.pk}/", status=404)


def test_the_home_page_leads_to_the_store(db):
    assert 'href="/store/"' in page("/")


# --- nothing internal reaches a public page or export ------------------------------------------------------------

PLANTED = {
    "lot supplier": "SUPPLIER-7Q4Z", "lot notes": "LOTNOTE-K2XP", "unit notes": "UNITNOTE-M8RW",
    "source rig": "RIG-J5TB", "location": "SHELF-V3NC", "inspection notes": "INSPNOTE-H6DL",
    "missing parts": "MISSING-P9QS", "bench name": "BENCH-W4GY", "buyer reference": "BUYER-T7EA",
    "return notes": "RETNOTE-C3FU", "price reason": "PRICEWHY-Z5LM", "withdraw reason": "WITHDRAWWHY-B2NK",
    "lot cost": "91357.13", "card cost": "4242.42",
}


@pytest.mark.django_db
def test_no_internal_data_reaches_any_public_page_or_export(certified, admin_user):
    cards = certified(4, lot="LEAK", supplier=PLANTED["lot supplier"], notes=PLANTED["lot notes"],
                      total_cost=PLANTED["lot cost"])
    Unit.objects.filter(pk__in=[c.pk for c in cards]).update(
        notes=PLANTED["unit notes"], source_rig=PLANTED["source rig"], location=PLANTED["location"],
        cost_basis=PLANTED["card cost"])
    Inspection.objects.filter(unit__in=cards).update(notes=PLANTED["inspection notes"],
                                                     missing_parts=PLANTED["missing parts"])
    Bench.objects.update(name=PLANTED["bench name"])
    assert Lot.objects.get(reference="LEAK").supplier == PLANTED["lot supplier"]
    store = offer([cards[0]], price="9000.00")
    listing_price_set(listing=store, price="8000.00", reason=PLANTED["price reason"], actor=admin_user)
    google = offer([cards[1]], channel="google", price="9000.00")
    ebay, backmarket = offer([cards[2]], channel="ebay", price="9000.00"), offer([cards[2]], channel="backmarket",
                                                                                  price="9000.00")
    listing_withdraw(listing=backmarket, reason=PLANTED["withdraw reason"])
    offer([cards[3]], channel="backmarket", price="9000.00")
    sold = offer([cards[3]], price="9000.00")
    order = listing_sell(listing=sold, buyer_reference=PLANTED["buyer reference"])
    return_receive(order=order, scanned_serial=cards[3].serial, reason="doa", notes=PLANTED["return notes"])
    assert PriceChange.objects.filter(reason=PLANTED["price reason"]).exists()
    floors = {str(x.floor_price) for x in (store, google, ebay)}  # derived from the planted cost

    certificate = Certificate.objects.get(unit=cards[0], status="valid")
    client = Client()
    responses = {path: client.get(path).content.decode() for path in (
        "/", f"/?q={cards[0].serial}", "/store/", "/store/?sort=price&fits=13b-int4", f"/store/{store.pk}/",
        f"/store/{google.pk}/", f"/store/{sold.pk}/", f"/verify/{certificate.public_id}/",
        f"/api/certificates/{certificate.public_id}/verify/", "/.well-known/refurb-keys.json")}
    for fmt in ("ebay", "google", "backmarket", "json"):
        responses[f"export {fmt}"] = listings_export(fmt=fmt).content
    assert "8000.00" in responses[f"/store/{store.pk}/"]  # the pages did show the offers
    for where, text in responses.items():
        for what, planted in PLANTED.items():
            assert planted not in text, f"{what} ({planted}) leaked into {where}"
        for floor in floors:
            assert floor not in text, f"a floor price ({floor}) leaked into {where}"

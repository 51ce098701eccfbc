"""The reseller's admin: stock for sale and listings with bulk actions, filters, margins for those who may see costs,
and nothing of it for a technician."""

import json

import pytest
from django.test import Client

from inventory.choices import UnitState
from resale.choices import ListingStatus
from resale.models import Listing, MatchedSet, Order
from resale.services import listing_create, reference_prices_import

from .test_sets_and_returns import CLOSE

PAGES = ["/admin/resale/stock/", "/admin/resale/listing/", "/admin/resale/matchedset/", "/admin/resale/order/",
         "/admin/resale/cardreturn/", "/admin/resale/referenceprice/", "/admin/resale/pricingpolicy/",
         "/admin/resale/ebayspecific/"]


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def act(client, path, action, ids, follow=False):
    return client.post(path, {"action": action, "_selected_action": [str(i) for i in ids]}, follow=follow)


@pytest.fixture
def stock(certified):
    reference_prices_import("model,price,currency\nRTX 3080,500,USD\n")
    return certified(figures=CLOSE, lot="ADM-R", total_cost="1200.00")


@pytest.mark.django_db
def test_the_pages_open_for_resellers_and_admins_and_stock_is_closed_to_technicians(stock, technician, reseller,
                                                                                      admin_user):
    listing_create(units=stock[:1], channel="ebay")
    for user in (reseller, admin_user):
        for path in PAGES:
            assert logged_in(user).get(path).status_code == 200, (user, path)
    for path in ("/admin/resale/stock/", "/admin/resale/order/", "/admin/resale/referenceprice/"):
        assert logged_in(technician).get(path).status_code == 403, path
    page = logged_in(technician).get("/admin/resale/listing/").content.decode()
    assert "margin" not in page.lower() and "382" not in page  # the floor of a 300.00 card on eBay


@pytest.mark.django_db
def test_stock_shows_grades_costs_and_suggested_prices_and_filters_by_ai_class(stock, reseller):
    client = logged_in(reseller)
    page = client.get("/admin/resale/stock/").content.decode()
    assert all(card.asset_tag in page for card in stock)
    assert "499.99 USD" in page and "300.00" in page and "F-A" in page
    fits = client.get("/admin/resale/stock/", {"fits": "7b-fp16"}).content.decode()
    assert stock[0].asset_tag not in fits  # a 10 GB card does not hold a 7B model at FP16
    fits = client.get("/admin/resale/stock/", {"fits": "13b-int4"}).content.decode()
    assert stock[0].asset_tag in fits


@pytest.mark.django_db
def test_stock_filters_by_grade_model_and_lot_listing_only_those_with_stock(stock, certified, make_units, reseller):
    client = logged_in(reseller)
    (other,) = certified(model="RTX 3090", lot="ADM-S")
    make_units(2, lot="ADM-EMPTY", model="RTX 3070")  # received, not for sale: neither the lot nor its model listed
    page = client.get("/admin/resale/stock/").content.decode()
    assert "ADM-R" in page and "ADM-S" in page and "ADM-EMPTY" not in page
    assert "GeForce RTX 3090" in page and "GeForce RTX 3070" not in page
    assert all(c.asset_tag in client.get("/admin/resale/stock/", {"grade": "F-A"}).content.decode()
               for c in [*stock, other])
    assert other.asset_tag not in client.get("/admin/resale/stock/", {"grade": "F-B"}).content.decode()
    by_model = client.get("/admin/resale/stock/", {"gpu_model__id__exact": other.gpu_model_id}).content.decode()
    assert other.asset_tag in by_model and stock[0].asset_tag not in by_model
    by_lot = client.get("/admin/resale/stock/", {"lot__id__exact": stock[0].lot_id}).content.decode()
    assert stock[0].asset_tag in by_lot and other.asset_tag not in by_lot


@pytest.mark.django_db
def test_bulk_list_publish_price_and_sell(stock, reseller):
    client = logged_in(reseller)
    act(client, "/admin/resale/stock/", "list_on_ebay", [c.pk for c in stock])
    drafts = Listing.objects.filter(channel="ebay")
    assert drafts.count() == 4 and {str(d.price) for d in drafts} == {"539.99"}
    act(client, "/admin/resale/listing/", "publish", drafts.values_list("pk", flat=True))
    assert set(Listing.objects.values_list("status", flat=True)) == {ListingStatus.ACTIVE}
    first = drafts.order_by("pk").first()
    Listing.objects.filter(pk=first.pk).update(price="600.00")
    act(client, "/admin/resale/listing/", "price_by_rule", [first.pk])
    first.refresh_from_db()
    assert str(first.price) == "539.99" and first.price_changes.last().reason == "priced by rule"
    act(client, "/admin/resale/listing/", "mark_sold", [first.pk])
    assert Order.objects.get().listing_id == first.pk
    response = act(client, "/admin/resale/listing/", "export_json", [first.pk])
    assert json.loads(response.content)["listings"][0]["id"] == first.pk


@pytest.mark.django_db
def test_sets_are_proposed_and_made_from_selected_stock(stock, reseller):
    client = logged_in(reseller)
    response = act(client, "/admin/resale/stock/", "propose_sets", [c.pk for c in stock], follow=True)
    assert "4 × GeForce RTX 3080 within 0.6%" in response.content.decode()
    act(client, "/admin/resale/stock/", "make_set", [c.pk for c in stock])
    matched = MatchedSet.objects.get()
    assert matched.units.count() == 4
    response = logged_in(reseller).get(f"/admin/resale/matchedset/{matched.pk}/change/").content.decode()
    assert response.count("/verify/") == 4  # the set's page lists every card's certificate
    refused = act(client, "/admin/resale/stock/", "make_set", [c.pk for c in stock[:2]], follow=True)
    assert "already in set" in refused.content.decode()
    assert all(c.state == UnitState.CERTIFIED for c in stock)

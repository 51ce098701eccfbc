"""Pricing: a reference price per model, factors per grade and channel, a floor from cost and fees, price changes
recorded, and under the floor only an admin with a reason."""

from decimal import Decimal

import pytest

from core.errors import InvalidInput
from inventory.errors import IntakeRejected
from resale.models import PriceChange, PricingPolicy, ReferencePrice
from resale.pricing import DEFAULT_RULES, fees_at, floor_for, margin_at, suggested_for
from resale.services import (
    listing_create,
    listing_price_set,
    pricing_policy_create,
    pricing_rules_current,
    reference_prices_import,
)

D = Decimal


@pytest.fixture
def priced(catalog):
    reference_prices_import("model,price,currency,source\nRTX 3080,500.00,USD,sold listings, Nov 2026\n"
                            .replace("sold listings, Nov 2026", '"sold listings, Nov 2026"'))


def test_the_floor_covers_cost_fees_and_the_minimum_margin():
    rules = DEFAULT_RULES
    floor = floor_for(rules, "ebay", D("300"))
    assert floor == D("382.41")  # (300 × 1.10 + 0.40) ÷ (1 − 0.136), rounded up
    # At the floor, what is left after eBay's fees is the cost plus 10 %, to the cent.
    assert margin_at(rules, "ebay", floor, D("300")) >= D("30.00")
    assert margin_at(rules, "ebay", floor - D("0.05"), D("300")) < D("30.00")
    assert fees_at(rules, "ebay", D("100")) == D("14.00")


def test_the_suggestion_follows_grade_channel_and_set_and_never_undercuts_the_floor():
    rules = DEFAULT_RULES
    floor = D("10")
    assert suggested_for(rules, "storefront", D("500"), [("F-A", "A")], floor) == D("499.99")
    assert suggested_for(rules, "ebay", D("500"), [("F-A", "A")], floor) == D("539.99")
    assert suggested_for(rules, "storefront", D("500"), [("F-C", "C")], floor) == D("339.99")
    # Two F-A/A cards as a set: 2 × 500 × 1.04.
    assert suggested_for(rules, "storefront", D("500"), [("F-A", "A")] * 2, floor) == D("1039.99")
    assert suggested_for(rules, "storefront", D("500"), [("F-A", "A")], D("612.40")) == D("612.99")


@pytest.mark.django_db
def test_a_listing_takes_the_suggested_price_and_records_it(certified, priced):
    (card,) = certified(lot="PR-1", total_cost="300.00")
    listing = listing_create(units=[card], channel="ebay", actor_label="rex")
    assert listing.currency == "USD" and listing.price == D("539.99") == listing.suggested_price
    assert listing.floor_price == D("382.41") and listing.cost == D("300.00")
    assert listing.pricing_version == DEFAULT_RULES["version"]
    assert listing.condition == {"id": 2500, "name": "Seller refurbished", "enum": "SELLER_REFURBISHED"}
    assert "RTX 3080" in listing.title and len(listing.title) <= 80
    assert "memory bandwidth" in listing.description and "/verify/" in listing.description
    (change,) = PriceChange.objects.filter(listing=listing)
    assert (change.from_price, change.to_price, change.reason) == (None, D("539.99"), "suggested price")


@pytest.mark.django_db
def test_under_the_floor_needs_an_admin_and_a_reason_and_every_change_is_kept(certified, priced, reseller,
                                                                               admin_user):
    (card,) = certified(lot="PR-2", total_cost="300.00")
    listing = listing_create(units=[card], channel="ebay", actor=reseller)
    with pytest.raises(InvalidInput, match="only an admin") as caught:
        listing_price_set(listing=listing, price="350.00", reason="clearance", actor=reseller)
    assert "382.41" in str(caught.value)
    with pytest.raises(InvalidInput, match="a reason is required"):
        listing_price_set(listing=listing, price="350.00", actor=admin_user)
    listing_price_set(listing=listing, price="450.00", actor=reseller)  # above the floor: anyone who may price
    listing_price_set(listing=listing, price="350.00", reason="clearance of old stock", actor=admin_user)
    history = list(PriceChange.objects.filter(listing=listing).values_list("from_price", "to_price", "below_floor",
                                                                           "changed_by__username"))
    assert history == [(None, D("539.99"), False, "rex"), (D("539.99"), D("450.00"), False, "rex"),
                       (D("450.00"), D("350.00"), True, "ada")]
    with pytest.raises(InvalidInput, match="price"):
        listing_price_set(listing=listing, price="-1", actor=admin_user)


@pytest.mark.django_db
def test_without_a_reference_price_the_reseller_names_the_price(certified):
    (card,) = certified(lot="PR-3")
    with pytest.raises(InvalidInput, match="no reference price for GeForce RTX 3080 in USD"):
        listing_create(units=[card], channel="storefront")
    assert listing_create(units=[card], channel="storefront", price="420.00").suggested_price is None


@pytest.mark.django_db
def test_costs_are_not_converted(certified, priced):
    (card,) = certified(lot="PR-4", total_cost="300.00", currency="EUR")
    with pytest.raises(InvalidInput, match="costs are in EUR"):
        listing_create(units=[card], channel="ebay", currency="USD", price="600")


@pytest.mark.django_db
def test_the_reference_price_import_is_all_or_nothing_with_every_line_named(catalog):
    bad = ("model,price,currency\nRTX 3080,500,USD\nRTX 9999,1,USD\nRTX 3090,12.345,USD\nRTX 3070,300,usd\n"
           "RTX 3080,510,USD\n")
    with pytest.raises(IntakeRejected) as caught:
        reference_prices_import(bad)
    said = {(e.line, e.field) for e in caught.value.errors}
    assert said == {(3, "model"), (4, "price"), (6, "model")}  # a lower-case currency code is read as upper case
    assert not ReferencePrice.objects.exists()
    with pytest.raises(IntakeRejected, match="unknown column"):
        reference_prices_import("model,prize,currency\n")
    assert reference_prices_import("model;price;currency\nRTX 3080;499,50;EUR\n") == (1, 0)
    assert ReferencePrice.objects.get().price == D("499.50")
    assert reference_prices_import("model,price,currency\nRTX 3080,520,EUR\n") == (0, 1)


@pytest.mark.django_db
def test_a_pricing_policy_is_a_new_version_checked_whole(certified, priced):
    with pytest.raises(InvalidInput) as caught:
        pricing_policy_create(version="2027.01-1", rules={**DEFAULT_RULES, "minimum_margin": -1,
                                                          "fees": {"ebay": {"share": 2}}})
    said = caught.value.errors["rules"]
    assert any(s.startswith("minimum_margin") for s in said) and any(s.startswith("fees.ebay") for s in said)
    assert any(s.startswith("fees.storefront") for s in said)
    pricing_policy_create(version="2027.01-1", rules={**DEFAULT_RULES, "minimum_margin": 0.25})
    with pytest.raises(InvalidInput, match="exists"):
        pricing_policy_create(version="2027.01-1", rules=DEFAULT_RULES)
    assert pricing_rules_current()["version"] == "2027.01-1" and PricingPolicy.objects.count() == 1
    (card,) = certified(lot="PR-5", total_cost="300.00")
    listing = listing_create(units=[card], channel="ebay")
    assert listing.pricing_version == "2027.01-1" and listing.floor_price == D("434.50")  # (375 + 0.40) ÷ 0.864, up

"""Listings: a certified card is offered on several channels and sells once; the lifecycle follows the listings."""

import threading

import pytest

from core.errors import Conflict, InvalidInput
from grading.services import certificate_revoke
from inventory.choices import EventKind, UnitState
from inventory.models import UnitEvent
from resale.choices import ListingStatus
from resale.services import listing_create, listing_publish, listing_sell, listing_withdraw


def offer(units, channel="ebay", price="199.00"):
    listing = listing_create(units=units, channel=channel, title="RTX 3080 10 GB, tested", price=price,
                             currency="EUR")
    return listing_publish(listing=listing, actor_label="test")


def state(unit):
    unit.refresh_from_db()
    return unit.state


@pytest.mark.django_db
def test_publishing_lists_the_card_and_a_second_channel_adds_an_event_not_a_move(certified):
    (card,) = certified()
    ebay = offer([card])
    assert ebay.status == ListingStatus.ACTIVE and state(card) == UnitState.LISTED
    offer([card], channel="storefront")
    kinds = list(UnitEvent.objects.filter(unit=card, kind=EventKind.LISTING_PUBLISHED)
                 .values_list("from_state", "to_state"))
    assert kinds == [("certified", "listed"), ("listed", "listed")]


@pytest.mark.django_db
def test_a_card_sells_once_and_its_other_listings_are_withdrawn(certified):
    (card,) = certified()
    ebay, store = offer([card]), offer([card], channel="storefront")
    listing_sell(listing=store)
    ebay.refresh_from_db()
    assert state(card) == UnitState.SOLD and ebay.status == ListingStatus.WITHDRAWN
    assert ebay.end_reason.startswith("sold on own storefront")
    with pytest.raises(Conflict, match="only an active listing sells"):
        listing_sell(listing=ebay)
    sold = UnitEvent.objects.get(unit=card, kind=EventKind.SOLD)
    assert sold.payload == {"listing": store.pk, "channel": "storefront", "price": "199.00", "currency": "EUR"}


@pytest.mark.django_db
def test_withdrawn_everywhere_the_card_is_certified_again(certified):
    (card,) = certified()
    ebay, store = offer([card]), offer([card], channel="storefront")
    listing_withdraw(listing=ebay, reason="price review")
    assert state(card) == UnitState.LISTED  # still on the storefront
    listing_withdraw(listing=store, reason="price review")
    assert state(card) == UnitState.CERTIFIED
    with pytest.raises(InvalidInput, match="reason"):
        listing_withdraw(listing=ebay, reason=" ")


@pytest.mark.django_db
def test_a_set_sells_every_card_and_pulls_each_cards_single_listings(certified):
    cards = certified(3)
    single = offer([cards[0]])
    matched = offer(cards, channel="backmarket", price="1500.00")
    listing_sell(listing=matched)
    single.refresh_from_db()
    assert [state(c) for c in cards] == [UnitState.SOLD] * 3 and single.status == ListingStatus.WITHDRAWN


@pytest.mark.django_db
def test_a_revoked_certificate_pulls_the_listings_and_frees_the_rest_of_a_set(certified):
    from grading.models import Certificate

    cards = certified(2)
    ebay, matched = offer([cards[0]]), offer(cards, channel="storefront")
    certificate_revoke(certificate=Certificate.objects.get(unit=cards[0], status="valid"), reason="fan died",
                       actor_label="test")
    ebay.refresh_from_db()
    matched.refresh_from_db()
    assert (ebay.status, matched.status) == (ListingStatus.WITHDRAWN, ListingStatus.WITHDRAWN)
    assert state(cards[0]) == UnitState.ON_HOLD and state(cards[1]) == UnitState.CERTIFIED
    assert UnitEvent.objects.filter(unit=cards[0], kind=EventKind.LISTING_WITHDRAWN).count() == 2


@pytest.mark.django_db
def test_only_certified_cards_are_listed_and_bad_input_is_named(make_units, certified):
    (card,) = certified()
    (raw,) = make_units(1, lot="RS-RAW")
    with pytest.raises(InvalidInput) as caught:
        listing_create(units=[card, raw], channel="ebay ", title="RTX\x003080", price="1.999", currency="XXX",
                       warranty_days=45)
    errors = caught.value.errors
    assert set(errors) == {"channel", "title", "price", "currency", "warranty_days", "units"}
    assert any("is received; only certified cards are listed" in e for e in errors["units"])
    from resale.models import Listing

    assert not Listing.objects.exists()  # all or nothing


@pytest.mark.django_db(transaction=True)
def test_two_channels_selling_one_card_at_once_exactly_one_wins(certified):
    (card,) = certified()
    listings = [offer([card]), offer([card], channel="storefront")]
    barrier, outcomes = threading.Barrier(2), []

    def sell(listing):
        from django.db import connection as own

        barrier.wait()
        try:
            listing_sell(listing=listing)
            outcomes.append("sold")
        except Conflict:
            outcomes.append("refused")
        except Exception as exc:  # a deadlock or a lost lock would show here, not vanish with the thread
            outcomes.append(repr(exc))
        finally:
            own.close()

    threads = [threading.Thread(target=sell, args=(listing,)) for listing in listings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "sold"] and state(card) == UnitState.SOLD
    assert UnitEvent.objects.filter(unit=card, kind=EventKind.SOLD).count() == 1

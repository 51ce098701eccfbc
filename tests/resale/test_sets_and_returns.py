"""Matched sets (proposed from measured figures, listed and sold as one) and returns (the serial that left, within
the window, back through tests to a new certificate)."""

from datetime import timedelta
from decimal import Decimal

import pytest

from core.errors import Conflict, InvalidInput
from grading.models import Certificate, CertificateStatus
from grading.services import certificate_issue, certificate_revoke, unit_grade
from inventory.choices import UnitState
from inventory.services import inspection_record
from resale.choices import ListingStatus, SetStatus
from resale.models import CardReturn, OrderLine
from resale.services import (
    listing_create,
    listing_publish,
    listing_sell,
    return_receive,
    set_create,
    set_dissolve,
    sets_propose,
)
from testbench.models import Bench
from testbench.services import run_create, run_finish, run_start

# Four cards within 1 % of each other on both figures, and one 8 % slower.
CLOSE = [(700.0, 45.0), (704.0, 45.3), (697.0, 44.8), (702.0, 45.1)]
SLOW = (645.0, 45.0)


def offer(units=None, matched_set=None, channel="storefront", price="500.00"):
    listing = listing_create(units=units, matched_set=matched_set, channel=channel, price=price)
    return listing_publish(listing=listing, actor_label="test")


def state(unit):
    unit.refresh_from_db()
    return unit.state


@pytest.mark.django_db
def test_sets_are_proposed_largest_first_within_tolerance(certified):
    cards = certified(figures=CLOSE + [SLOW])
    (proposal,) = sets_propose()
    assert sorted(proposal.unit_ids) == sorted(c.pk for c in cards[:4])
    assert proposal.spread == pytest.approx(4 / 701, abs=1e-4)  # the farthest card from the median bandwidth
    assert proposal.figures["fp16_tflops"]["min"] == 44.8
    pairs = sets_propose(size=2)
    assert [len(p.cards) for p in pairs] == [2, 2] and pairs[0].spread <= pairs[1].spread
    assert len(sets_propose(tolerance=0.1)[0].cards) == 5


@pytest.mark.django_db
def test_a_set_is_checked_whole_and_a_card_joins_one_open_set(certified, make_units):
    cards = certified(figures=CLOSE + [SLOW])
    with pytest.raises(InvalidInput, match="more than the tolerance"):
        set_create(units=cards)
    (raw,) = make_units(1, lot="SET-RAW")
    with pytest.raises(InvalidInput, match="is received"):
        set_create(units=cards[:2] + [raw])
    matched = set_create(units=cards[:4])
    assert matched.status == SetStatus.OPEN and float(matched.spread) < 0.01
    with pytest.raises(InvalidInput, match="already in set"):
        set_create(units=cards[3:5], tolerance=0.2)
    assert sets_propose() == []  # the four are taken, the slow one matches nothing
    set_dissolve(matched_set=matched, reason="a buyer wants two")
    assert len(set_create(units=cards[:2]).units.all()) == 2


@pytest.mark.django_db
def test_selling_a_set_sells_every_card_with_its_serial_and_closes_the_set(certified):
    cards = certified(figures=CLOSE)
    matched = set_create(units=cards)
    listing = offer(matched_set=matched, price="2400.00")
    assert listing.title.startswith("4 × NVIDIA GeForce RTX 3080 10 GB, matched within 0.6%")
    assert listing.description.count("/verify/") == 4
    single = offer([cards[0]], channel="ebay")
    with pytest.raises(Conflict, match="on offer"):
        set_dissolve(matched_set=matched, reason="no")
    order = listing_sell(listing=listing, buyer_reference="EB-1234")
    matched.refresh_from_db()
    single.refresh_from_db()
    assert matched.status == SetStatus.SOLD and single.status == ListingStatus.WITHDRAWN
    assert [state(c) for c in cards] == [UnitState.SOLD] * 4
    lines = OrderLine.objects.filter(order=order).order_by("unit_id")
    assert [line.serial_at_sale for line in lines] == [c.serial for c in cards]
    assert (order.price_paid, order.fees) == (Decimal("2400.00"), Decimal("72.30"))  # storefront: 3 % + 0.30


@pytest.mark.django_db
def test_a_card_of_a_set_sold_alone_or_revoked_ends_the_set(certified):
    cards = certified(figures=CLOSE)
    first, second = set_create(units=cards[:2]), set_create(units=cards[2:])
    listing_sell(listing=offer([cards[0]]))
    first.refresh_from_db()
    assert first.status == SetStatus.DISSOLVED and "sold on own storefront" in first.end_reason
    set_listing = offer(matched_set=second)
    certificate_revoke(certificate=Certificate.objects.get(unit=cards[3], status="valid"), reason="bad paste")
    second.refresh_from_db()
    set_listing.refresh_from_db()
    assert second.status == SetStatus.DISSOLVED and set_listing.status == ListingStatus.WITHDRAWN
    assert state(cards[2]) == UnitState.CERTIFIED  # the other card is free to sell alone


@pytest.mark.django_db
def test_a_return_takes_back_the_serial_that_left_within_its_window(certified, make_units):
    (card,) = certified()
    (other,) = make_units(1, lot="RMA-OTHER")
    order = listing_sell(listing=offer([card]))
    with pytest.raises(InvalidInput, match=f"did not leave in order {order.pk}") as caught:
        return_receive(order=order, scanned_serial=other.serial, reason="doa")
    assert f"is card {other.asset_tag}" in str(caught.value)
    with pytest.raises(InvalidInput) as caught:
        return_receive(order=order, scanned_serial="", reason="lost", refund="x")
    assert set(caught.value.errors) == {"scanned_serial", "reason", "refund"}
    late = order.sold_at + timedelta(days=31)
    with pytest.raises(InvalidInput, match="window of order .* closed"):
        return_receive(order=order, scanned_serial=card.serial, reason="remorse", now=late)
    assert state(card) == UnitState.SOLD
    taken = return_receive(order=order, scanned_serial=f" {card.serial.lower()} ", reason="artifacts",
                           refund="500.00", cost="12.50")
    assert state(card) == UnitState.RETURNED and taken.line.unit_id == card.pk
    with pytest.raises(Conflict, match="back already"):
        return_receive(order=order, scanned_serial=card.serial, reason="artifacts")
    assert CardReturn.objects.count() == 1


@pytest.mark.django_db
def test_a_returned_card_goes_back_through_tests_to_a_new_certificate(certified, healthy_report):
    (card,) = certified()
    old = Certificate.objects.get(unit=card, status=CertificateStatus.VALID)
    order = listing_sell(listing=offer([card]))
    return_receive(order=order, scanned_serial=card.serial, reason="fan_noise")
    inspection_record(unit=card, cosmetic_grade="B", fan_condition="ok")
    bench = Bench.objects.get(name="walk-bench")
    run = run_start(run=run_create(unit=card, plan="quick", bench=bench), identity=healthy_report.identity,
                    software={})
    run_finish(run=run, report=healthy_report)
    card.refresh_from_db()
    unit_grade(unit=card)
    new = certificate_issue(unit=card)
    old.refresh_from_db()
    assert old.status == CertificateStatus.SUPERSEDED and old.superseded_by_id == new.pk
    assert state(card) == UnitState.CERTIFIED and new.grade.cosmetic == "B"
    assert offer([card], channel="ebay").status == ListingStatus.ACTIVE  # relisted


@pytest.mark.django_db
def test_the_demo_lists_sells_and_takes_back_and_runs_once(certified, capsys):
    from django.core.management import call_command

    from resale.models import CardReturn, Listing, Order

    certified(figures=[(700.0, 45.0), (760.0, 45.0), (820.0, 45.0), (880.0, 45.0)], lot="DEMO-T")
    call_command("demo_resale")
    assert Listing.objects.filter(channel="storefront").count() == 4 and Listing.objects.filter(channel="ebay")
    assert Order.objects.count() == 2 and CardReturn.objects.count() == 1
    call_command("demo_resale")
    assert Order.objects.count() == 2 and "already present" in capsys.readouterr().out

"""The listing lifecycle under any sequence of resale actions (hypothesis): listings on several channels, matched
sets, sales in the admin and by a channel's import, returns and revoked certificates. Whatever the order, a card is
never sold twice, and the cards' states always say what their listings say."""

import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from core.errors import DomainError
from grading.models import Certificate
from grading.services import certificate_revoke
from inventory.choices import UnitState
from inventory.errors import IntakeRejected
from inventory.models import Unit
from resale.choices import ListingStatus, SetStatus
from resale.models import CardReturn, Listing, MatchedSet, Order, OrderLine
from resale.services import (
    listing_create,
    listing_publish,
    listing_sell,
    listing_withdraw,
    return_receive,
    set_create,
)
from resale.services.exports import sales_import

CHANNELS = ("storefront", "ebay", "backmarket")
CARDS = 4


@pytest.mark.django_db
def test_a_card_is_never_sold_twice_and_states_follow_listings(make_units, walk):
    runs = iter(range(1000))

    class Resale(RuleBasedStateMachine):
        @initialize()
        def stock(self):
            lot = f"HYP-{next(runs)}"
            self.cards = [walk(unit, "certified") for unit in make_units(CARDS, lot=lot)]

        def _cards(self, picks):
            return [self.cards[i] for i in sorted(set(picks))]

        def _listing(self, index, *statuses):
            """A listing of these cards (of `statuses`, mostly; now and then any, to try the refusals too)."""
            listings = Listing.objects.filter(items__unit__in=self.cards).distinct().order_by("pk")
            if statuses and index % 5:
                listings = listings.filter(status__in=statuses)
            listings = list(listings)
            return listings[index % len(listings)] if listings else None

        @rule(picks=st.lists(st.integers(0, CARDS - 1), min_size=1, max_size=2),
              channel=st.sampled_from(CHANNELS), publish=st.booleans())
        def list_cards(self, picks, channel, publish):
            try:
                listing = listing_create(units=self._cards(picks), channel=channel, price="300.00")
                if publish:
                    listing_publish(listing=listing)
            except DomainError:
                pass  # not certified any more, or bad combination: refused whole

        @rule(picks=st.lists(st.integers(0, CARDS - 1), min_size=2, max_size=3, unique=True),
              channel=st.sampled_from(CHANNELS))
        def list_a_set(self, picks, channel):
            try:
                matched = set_create(units=self._cards(picks))
                listing_publish(listing=listing_create(matched_set=matched, channel=channel, price="900.00"))
            except DomainError:
                pass

        @rule(index=st.integers(0, 30))
        def publish(self, index):
            if (listing := self._listing(index, ListingStatus.DRAFT)) is not None:
                try:
                    listing_publish(listing=listing)
                except DomainError:
                    pass

        @rule(index=st.integers(0, 30))
        def withdraw(self, index):
            if (listing := self._listing(index, ListingStatus.DRAFT, ListingStatus.ACTIVE)) is not None:
                try:
                    listing_withdraw(listing=listing, reason="property test")
                except DomainError:
                    pass

        @rule(index=st.integers(0, 30))
        def sell(self, index):
            if (listing := self._listing(index, ListingStatus.ACTIVE)) is not None:
                try:
                    listing_sell(listing=listing)
                except DomainError:
                    pass

        @rule(index=st.integers(0, 30))
        def channel_reports_a_sale(self, index):
            listing = self._listing(index, ListingStatus.ACTIVE)
            if listing is None or listing.card_count != 1:
                return
            tag = listing.items.get().unit.asset_tag
            try:
                sales_import(channel=listing.channel, content=f"sku,status\n{tag},sold\n")
            except (DomainError, IntakeRejected):
                pass  # sold elsewhere meanwhile, or not on that channel: the whole file refused

        @rule(index=st.integers(0, 30), wrong_card=st.booleans())
        def buyer_returns_one(self, index, wrong_card):
            lines = list(OrderLine.objects.filter(unit__in=self.cards).select_related("unit").order_by("pk"))
            if lines:
                line = lines[index % len(lines)]
                scanned = self.cards[(self.cards.index(line.unit) + 1) % CARDS].serial if wrong_card \
                    else line.unit.serial
                try:
                    return_receive(order=line.order, scanned_serial=scanned, reason="remorse")
                except DomainError:
                    pass  # a different card, or back already

        @rule(pick=st.integers(0, CARDS - 1))
        def certificate_revoked(self, pick):
            valid = Certificate.objects.filter(unit=self.cards[pick], status="valid").first()
            if valid is not None:
                certificate_revoke(certificate=valid, reason="property test")

        @invariant()
        def never_sold_twice(self):
            for card in self.cards:
                assert OrderLine.objects.filter(unit=card).count() <= 1, card.asset_tag
            for listing in Listing.objects.filter(items__unit__in=self.cards, status=ListingStatus.SOLD).distinct():
                assert Order.objects.filter(listing=listing).count() == 1

        @invariant()
        def states_follow_listings(self):
            for card in Unit.objects.filter(pk__in=[c.pk for c in self.cards]):
                active = Listing.objects.filter(items__unit=card, status=ListingStatus.ACTIVE).count()
                sold = OrderLine.objects.filter(unit=card).exists()
                returned = CardReturn.objects.filter(line__unit=card).exists()
                if card.state == UnitState.LISTED:
                    assert active >= 1, card.asset_tag
                else:
                    assert active == 0, (card.asset_tag, card.state)
                assert (card.state == UnitState.SOLD) == (sold and not returned), (card.asset_tag, card.state)
                assert (card.state == UnitState.RETURNED) == returned or card.state == UnitState.ON_HOLD

        @invariant()
        def sets_hold_their_cards_once(self):
            for matched in MatchedSet.objects.filter(members__unit__in=self.cards).distinct():
                members = list(matched.members.all())
                if matched.status == SetStatus.OPEN:
                    assert all(m.open for m in members)
                    assert not Unit.objects.filter(pk__in=[m.unit_id for m in members],
                                                   state__in=(UnitState.SOLD, UnitState.RETURNED)).exists()
                if matched.status == SetStatus.SOLD:
                    assert all(m.unit.order_lines.exists() for m in members)

    run_state_machine_as_test(Resale, settings=settings(
        max_examples=int(os.environ.get("REFURB_PROPERTY_EXAMPLES", "12")), stateful_step_count=20, deadline=None,
        derandomize=bool(os.environ.get("CI")),
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))

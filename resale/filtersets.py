"""Filters of listings, sets, orders and returns, declared once for the API and the admin."""

from django_filters import rest_framework as filters

from inventory.filtersets import UtcDateTimeFilter

from .choices import Channel, ListingStatus, SetStatus
from .models import CardReturn, ListedUnit, Listing, MatchedSet, Order, OrderLine, ReturnReason


def _listings_of_cards(queryset, name, value):
    """Listings with a card matching `name` (a lookup on the card): a semi-join, where a join to the cards would need
    SELECT DISTINCT over every column of every listing."""
    return queryset.filter(pk__in=ListedUnit.objects.filter(**{f"unit__{name}": value}).values("listing_id"))


class ListingFilterSet(filters.FilterSet):
    # distinct=False: one value per listing, and MultipleChoiceFilter's default DISTINCT costs a sort of every row.
    channel = filters.MultipleChoiceFilter(choices=Channel.choices, distinct=False)
    status = filters.MultipleChoiceFilter(choices=ListingStatus.choices, distinct=False)
    asset_tag = filters.CharFilter(field_name="asset_tag", method=_listings_of_cards)
    model = filters.CharFilter(field_name="gpu_model__slug")  # the listing keeps its cards' model
    lot = filters.CharFilter(field_name="lot__reference", method=_listings_of_cards)
    matched = filters.BooleanFilter(field_name="matched_set", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Listing
        fields = ["channel", "status", "matched_set", "currency"]


class MatchedSetFilterSet(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=SetStatus.choices, distinct=False)
    model = filters.CharFilter(field_name="gpu_model__slug")

    class Meta:
        model = MatchedSet
        fields = ["status"]


class OrderFilterSet(filters.FilterSet):
    channel = filters.MultipleChoiceFilter(choices=Channel.choices, distinct=False)
    asset_tag = filters.CharFilter(field_name="asset_tag", method=lambda queryset, name, value: queryset.filter(
        pk__in=OrderLine.objects.filter(unit__asset_tag=value).values("order_id")))
    sold_after = UtcDateTimeFilter(field_name="sold_at", lookup_expr="gte")
    sold_before = UtcDateTimeFilter(field_name="sold_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["channel"]


class CardReturnFilterSet(filters.FilterSet):
    reason = filters.MultipleChoiceFilter(choices=ReturnReason.choices, distinct=False)
    asset_tag = filters.CharFilter(field_name="line__unit__asset_tag")

    class Meta:
        model = CardReturn
        fields = ["reason"]

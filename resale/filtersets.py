"""Filters of listings, sets, orders and returns, declared once for the API and the admin."""

from django_filters import rest_framework as filters

from inventory.filtersets import UtcDateTimeFilter

from .choices import Channel, ListingStatus, SetStatus
from .models import CardReturn, Listing, MatchedSet, Order, ReturnReason


class ListingFilterSet(filters.FilterSet):
    channel = filters.MultipleChoiceFilter(choices=Channel.choices)
    status = filters.MultipleChoiceFilter(choices=ListingStatus.choices)
    asset_tag = filters.CharFilter(field_name="items__unit__asset_tag", distinct=True)
    model = filters.CharFilter(field_name="items__unit__gpu_model__slug", distinct=True)
    lot = filters.CharFilter(field_name="items__unit__lot__reference", distinct=True)
    matched = filters.BooleanFilter(field_name="matched_set", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Listing
        fields = ["channel", "status", "matched_set", "currency"]


class MatchedSetFilterSet(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=SetStatus.choices)
    model = filters.CharFilter(field_name="gpu_model__slug")

    class Meta:
        model = MatchedSet
        fields = ["status"]


class OrderFilterSet(filters.FilterSet):
    channel = filters.MultipleChoiceFilter(choices=Channel.choices)
    asset_tag = filters.CharFilter(field_name="lines__unit__asset_tag", distinct=True)
    sold_after = UtcDateTimeFilter(field_name="sold_at", lookup_expr="gte")
    sold_before = UtcDateTimeFilter(field_name="sold_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["channel"]


class CardReturnFilterSet(filters.FilterSet):
    reason = filters.MultipleChoiceFilter(choices=ReturnReason.choices)
    asset_tag = filters.CharFilter(field_name="line__unit__asset_tag")

    class Meta:
        model = CardReturn
        fields = ["reason"]

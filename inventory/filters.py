"""Filter sets shared by every face that lists inventory, so a filter means the same thing everywhere."""

from datetime import UTC

import django_filters
from django.db.models import Q

from .choices import CosmeticGrade, GpuSegment, GpuVendor, UnitState
from .models import GpuModel, Lot, Unit


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 date-time, compared in UTC: Python accepts offsets up to ±24 h, PostgreSQL only ±15:59."""

    def filter(self, qs, value):
        return super().filter(qs, value.astimezone(UTC) if value else value)


class UnitFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=UnitState.choices)
    model = django_filters.CharFilter(method="filter_model", label="Declared model: catalog id or slug")
    lot = django_filters.CharFilter(method="filter_lot", label="Lot: id or reference")
    grade = django_filters.MultipleChoiceFilter(field_name="cosmetic_grade", choices=CosmeticGrade.choices,
                                                label="Cosmetic grade")
    board_vendor = django_filters.CharFilter(lookup_expr="iexact")
    serial_missing = django_filters.BooleanFilter()
    received_after = UtcDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = UtcDateTimeFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = Unit
        fields = ["state", "model", "lot", "grade", "board_vendor", "serial_missing"]

    def filter_model(self, queryset, name, value):
        return queryset.filter(Q(gpu_model__slug=value) | Q(gpu_model__pk=int(value)) if value.isdigit()
                               else Q(gpu_model__slug=value))

    def filter_lot(self, queryset, name, value):
        return queryset.filter(Q(lot__reference=value) | Q(lot__pk=int(value)) if value.isdigit()
                               else Q(lot__reference=value))


class GpuModelFilterSet(django_filters.FilterSet):
    vendor = django_filters.ChoiceFilter(choices=GpuVendor.choices)
    segment = django_filters.ChoiceFilter(choices=GpuSegment.choices)
    architecture = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = GpuModel
        fields = ["vendor", "segment", "architecture"]


class LotFilterSet(django_filters.FilterSet):
    supplier = django_filters.CharFilter(lookup_expr="icontains")
    purchased_after = django_filters.DateFilter(field_name="purchased_on", lookup_expr="gte")
    purchased_before = django_filters.DateFilter(field_name="purchased_on", lookup_expr="lte")

    class Meta:
        model = Lot
        fields = ["supplier"]

"""Filter sets shared by every face that lists inventory, so a filter means the same thing everywhere."""

import re
from datetime import UTC

import django_filters
from django import forms
from django.db.models import Q
from django_filters.fields import IsoDateTimeField

from .choices import CosmeticGrade, GpuSegment, GpuVendor, UnitState
from .models import GpuModel, Lot, Unit


class UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 date-time converted to UTC: Python accepts offsets up to ±24 h, PostgreSQL only ±15:59."""

    def to_python(self, value):
        parsed = super().to_python(value)
        try:
            return parsed.astimezone(UTC) if parsed else parsed
        except OverflowError:
            raise forms.ValidationError("out of range once converted to UTC", code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


# An id as typed in a URL: ASCII digits only (str.isdigit() also accepts "²"), and small enough for a bigint.
_ID = re.compile(r"[0-9]{1,18}")


def _id_or_key(value: str, key_field: str) -> Q:
    return Q(**{key_field: value}) | Q(pk=int(value)) if _ID.fullmatch(value) else Q(**{key_field: value})


class UnitFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=UnitState.choices, distinct=False)  # no DISTINCT: one per card
    model = django_filters.CharFilter(method="filter_model", label="Declared model: catalog id or slug")
    lot = django_filters.CharFilter(method="filter_lot", label="Lot: id or reference")
    grade = django_filters.MultipleChoiceFilter(field_name="cosmetic_grade", choices=CosmeticGrade.choices,
                                                distinct=False, label="Cosmetic grade")
    board_vendor = django_filters.CharFilter(lookup_expr="iexact")
    serial_missing = django_filters.BooleanFilter()
    received_after = UtcDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = UtcDateTimeFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = Unit
        fields = ["state", "model", "lot", "grade", "board_vendor", "serial_missing"]

    def filter_model(self, queryset, name, value):
        ids = queryset.model.gpu_model.field.related_model.objects.filter(_id_or_key(value, "slug"))
        return queryset.filter(gpu_model__in=ids)

    def filter_lot(self, queryset, name, value):
        ids = queryset.model.lot.field.related_model.objects.filter(_id_or_key(value, "reference"))
        return queryset.filter(lot__in=ids)


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

"""Filters of the testbench records, declared once for its API (and any other listing that wants them)."""

from django_filters import rest_framework as filters

from .choices import RunState
from .models import TestRun


class RunFilterSet(filters.FilterSet):
    state = filters.MultipleChoiceFilter(choices=RunState.choices, distinct=False)
    bench = filters.CharFilter(field_name="bench__name")
    asset_tag = filters.CharFilter(field_name="unit__asset_tag")

    class Meta:
        model = TestRun
        fields = ["state", "bench", "unit", "plan", "verdict"]

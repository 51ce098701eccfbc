"""Filters of the grading records, declared once for its API (and any other listing that wants them)."""

from django_filters import rest_framework as filters

from .models import Certificate, CertificateStatus, Grade


class GradeFilterSet(filters.FilterSet):
    asset_tag = filters.CharFilter(field_name="unit__asset_tag")

    class Meta:
        model = Grade
        fields = ["unit", "functional", "cosmetic", "disposition", "policy_version"]


class CertificateFilterSet(filters.FilterSet):
    asset_tag = filters.CharFilter(field_name="unit__asset_tag")
    status = filters.MultipleChoiceFilter(choices=CertificateStatus.choices, distinct=False)

    class Meta:
        model = Certificate
        fields = ["unit", "status", "key_id"]

"""Admin for grades: read-only, since grades are given by the grading service, not typed in."""

from django.contrib import admin

from testbench.admin import ReadOnlyAdmin

from .models import Grade


@admin.register(Grade)
class GradeAdmin(ReadOnlyAdmin):
    list_display = ["unit", "functional", "cosmetic", "disposition", "policy_version", "created_at"]
    list_filter = ["functional", "cosmetic", "disposition", "policy_version"]
    search_fields = ["unit__asset_tag", "unit__serial"]
    list_select_related = ["unit", "unit__gpu_model"]

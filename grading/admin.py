"""Admin for grades: read-only, since grades are given by the grading service, not typed in."""

from django.contrib import admin

from .models import Grade


@admin.register(Grade)
class GradeAdmin(admin.ModelAdmin):
    list_display = ["unit", "functional", "cosmetic", "disposition", "policy_version", "created_at"]
    list_filter = ["functional", "cosmetic", "disposition", "policy_version"]
    search_fields = ["unit__asset_tag", "unit__serial"]
    list_select_related = ["unit", "unit__gpu_model"]
    readonly_fields = ["unit", "run", "functional", "cosmetic", "policy_version", "reasons", "disposition",
                       "marketplace", "ai", "graded_by", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

"""Admin for bench records: read-only, since runs are written by the bench, not by hand."""

from django.contrib import admin

from .models import Bench, CheckResultRecord, RunTelemetry, TestRun


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Bench)
class BenchAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "simulated", "last_seen_at"]
    search_fields = ["name"]


class CheckResultInline(admin.TabularInline):
    model = CheckResultRecord
    fields = ["position", "name", "status", "summary", "duration_s"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TestRun)
class TestRunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "unit", "bench", "device_label", "plan", "state", "verdict", "started_at", "finished_at"]
    list_filter = ["state", "verdict", "plan", "bench"]
    search_fields = ["unit__asset_tag", "unit__serial", "device_label"]
    list_select_related = ["unit", "unit__gpu_model", "bench"]
    inlines = [CheckResultInline]


@admin.register(CheckResultRecord)
class CheckResultAdmin(ReadOnlyAdmin):
    list_display = ["run", "name", "status", "summary"]
    list_filter = ["name", "status"]
    search_fields = ["run__unit__asset_tag"]
    list_select_related = ["run", "run__unit", "run__unit__gpu_model"]


@admin.register(RunTelemetry)
class RunTelemetryAdmin(ReadOnlyAdmin):
    list_display = ["run", "samples"]
    list_select_related = ["run", "run__unit", "run__unit__gpu_model"]

"""Admin for bench records: read-only, since runs are written by the bench, not by hand."""

from django.contrib import admin, messages

from core.admin import FilterSetAdmin, ReadOnlyAdmin
from core.errors import DomainError
from inventory.choices import UnitState

from .filtersets import RunFilterSet
from .models import Bench, BenchSlot, CheckResultRecord, RunTelemetry, TestRun
from .selectors import SLOT_FLAG_CARDS, slot_strikes
from .services import run_cancel_request


@admin.display(description="strikes")
def strikes(slot: BenchSlot) -> str:
    """Cards whose link was degraded or slow in this slot: from SLOT_FLAG_CARDS on, suspect the slot or riser."""
    count = slot_strikes([slot.pk]).get(slot.pk, 0)
    return f"{count} — check the slot and riser" if count >= SLOT_FLAG_CARDS else str(count)


class SlotInline(admin.TabularInline):
    model = BenchSlot
    fields = ["index", "name", "uuid", "unit", "run", strikes, "last_seen_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Bench)
class BenchAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "simulated", "worker", "last_seen_at"]
    readonly_fields = ["worker", "last_seen_at"]
    search_fields = ["name"]
    inlines = [SlotInline]


@admin.display(description="findings")
def finding_codes(result: CheckResultRecord) -> str:
    """The finding codes, worst first: what grading read (docs/findings.md)."""
    if result.findings is None:
        return "(recorded before findings)"
    ordered = sorted(result.findings, key=lambda f: f.get("severity") != "fail")
    return ", ".join(f"{f['code']} ({f['severity']})" for f in ordered) or "—"


@admin.display(description="took")
def duration(result: CheckResultRecord) -> str:
    """Seconds to a sensible precision (a float's 17 digits say nothing more)."""
    seconds = result.duration_s or 0.0
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


class CheckResultInline(admin.TabularInline):
    model = CheckResultRecord
    fields = ["position", "name", "status", finding_codes, "summary", duration]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TestRun)
class TestRunAdmin(FilterSetAdmin, ReadOnlyAdmin):
    filterset_class = RunFilterSet
    list_display = ["pk", "unit", "bench", "device_label", "plan", "state", "verdict", "started_at", "finished_at"]
    list_filter = ["state", "verdict", "plan", "bench"]
    search_fields = ["unit__asset_tag", "unit__serial", "device_label"]
    list_select_related = ["unit", "unit__gpu_model", "bench"]
    inlines = [CheckResultInline]
    actions = ["cancel_to_queue", "cancel_to_hold"]

    def _cancel(self, request, queryset, to_state):
        done = 0
        for run in queryset:
            try:
                run_cancel_request(run=run, to_state=to_state, reason=f"cancelled in the admin by {request.user}",
                                   actor=request.user)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"run {run.pk}: {exc}", messages.WARNING)
        if done:
            self.message_user(request, f"{done} run(s) cancelled or asked to stop (a running check stops within "
                                       "seconds).", messages.SUCCESS)

    @admin.action(description="Cancel: card back in the queue", permissions=["cancel"])
    def cancel_to_queue(self, request, queryset):
        self._cancel(request, queryset, UnitState.QUEUED)

    @admin.action(description="Cancel: card on hold", permissions=["cancel"])
    def cancel_to_hold(self, request, queryset):
        self._cancel(request, queryset, UnitState.ON_HOLD)

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("testbench.change_testrun")


@admin.register(CheckResultRecord)
class CheckResultAdmin(ReadOnlyAdmin):
    list_display = ["run", "name", "status", finding_codes, "summary"]
    list_filter = ["name", "status"]
    search_fields = ["run__unit__asset_tag"]
    list_select_related = ["run", "run__unit", "run__unit__gpu_model"]


@admin.register(RunTelemetry)
class RunTelemetryAdmin(ReadOnlyAdmin):
    list_display = ["run", "samples"]
    list_select_related = ["run", "run__unit", "run__unit__gpu_model"]

"""Admin: every model, with role-aware cost fields; state changes and intake go through the services."""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.admin import FilterSetAdmin
from core.errors import DomainError, InvalidInput
from core.forms import BoundedJSONFormField

from .choices import COSMETIC_GRADE_DEFINITIONS, REASON_REQUIRED_STATES, UnitState
from .errors import IntakeRejected
from .filtersets import GpuModelFilterSet, LotFilterSet, UnitFilterSet
from .models import GpuModel, Inspection, InspectionPhoto, Lot, Unit, UnitEvent
from .roles import allowed_targets_for, can_see_costs
from .services import (
    inspection_record,
    intake_import,
    intake_read_upload,
    lot_cost_warnings,
    lot_create,
    lot_update,
    unit_transition,
    unit_update,
)
from .services.units import EDITABLE_FIELDS, unit_moves_for, unit_stated_fields_check
from .validators import BLOCK_TEXT

# Colour of each state's badge in lists: grey waiting, blue on the bench, green good, red bad, amber attention.
STATE_COLOURS = {
    UnitState.RECEIVED: "#6c757d", UnitState.INSPECTED: "#6c757d", UnitState.QUEUED: "#0d6efd",
    UnitState.TESTING: "#0d6efd", UnitState.TESTED: "#0dcaf0", UnitState.FAILED: "#dc3545",
    UnitState.REPAIR: "#fd7e14", UnitState.GRADED: "#198754", UnitState.CERTIFIED: "#198754",
    UnitState.LISTED: "#20c997", UnitState.SOLD: "#343a40", UnitState.RETURNED: "#fd7e14",
    UnitState.ON_HOLD: "#ffc107", UnitState.SCRAPPED: "#212529",
}


COST_FIELDS = ("cost_basis", "cost_given", "total_cost")


def _touches_costs(lookup: str) -> bool:
    return any(part in COST_FIELDS for part in lookup.split("__"))


@admin.register(GpuModel)
class GpuModelAdmin(FilterSetAdmin):
    filterset_class = GpuModelFilterSet
    list_display = ["name", "vendor", "architecture", "vram_gib", "memory_bandwidth_gbs", "fp32_tflops",
                    "fp16_tflops", "tdp_w", "launch_date"]
    list_filter = ["vendor", "segment", "architecture"]
    search_fields = ["name", "slug", "chip", "pci_device_ids"]
    formfield_overrides = {models.JSONField: {"form_class": BoundedJSONFormField}}


class IntakeUploadForm(forms.Form):
    csv_file = forms.FileField(label="CSV file",
                               help_text="Columns: model, board_vendor, serial, and optionally source_rig, notes, "
                                         "cost, location, cosmetic_grade, board_part_number, vbios_version")
    dry_run = forms.BooleanField(required=False, help_text="Check the file without importing")


@admin.register(Lot)
class LotAdmin(FilterSetAdmin):
    filterset_class = LotFilterSet
    list_display = ["reference", "supplier", "purchased_on", "unit_total", "demo", "created_at"]
    search_fields = ["reference", "supplier"]
    list_filter = ["purchased_on", "currency", "demo"]
    actions = ["intake_csv_action"]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(unit_total=Count("units"))

    @admin.display(description="units", ordering="unit_total")
    def unit_total(self, lot):
        return lot.unit_total

    readonly_fields = ["cards_at_a_glance"]
    CARDS_SHOWN = 50

    @admin.display(description="cards")
    def cards_at_a_glance(self, lot):
        """The lot's yield and where its cards are, then its first cards with their state and current grade."""
        if lot is None or lot.pk is None:
            return "—"
        from django.db.models import Count

        units = Unit.objects.filter(lot=lot)
        by_state = dict(units.values_list("state").annotate(n=Count("pk")).order_by())
        grades = Unit._meta.get_field("grades").related_model  # the grading app's, through the reverse relation
        graded = dict(grades.objects.filter(unit__lot=lot, is_current=True).values_list("functional")
                      .annotate(n=Count("pk")).order_by())
        passed, total_graded = sum(n for g, n in graded.items() if g != "FAIL"), sum(graded.values())
        yield_text = f"{passed / total_graded:.0%} passed ({passed} of {total_graded} graded)" if total_graded else (
            "nothing graded yet")
        shown = list(units.select_related("gpu_model").order_by("asset_tag")[:self.CARDS_SHOWN])
        current = dict(grades.objects.filter(unit__in=shown, is_current=True).values_list("unit_id", "functional"))
        rows = format_html_join("", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>', (
            (reverse("admin:inventory_unit_change", args=[u.pk]), u.asset_tag, u.gpu_model.name,
             u.get_state_display(), current.get(u.pk, "–")) for u in shown))
        states = ", ".join(f"{UnitState(state).label.lower()} {n}" for state, n in sorted(by_state.items()))
        total = sum(by_state.values())
        more = format_html(' · <a href="{}?lot__id__exact={}">all {} cards</a>',
                           reverse("admin:inventory_unit_changelist"), lot.pk, total)
        labels = f"{reverse('workbench:labels')}?{urlencode({'lot': lot.reference, 'profile': 'a4'})}"
        return format_html('<p><b>Yield: {}</b>. {}{} · <a href="{}">labels on A4</a></p>'
                           '<table><thead><tr><th>asset tag</th><th>model</th><th>state</th><th>grade</th></tr>'
                           '</thead><tbody>{}</tbody></table>', yield_text, states or "no cards", more, labels, rows)

    def get_list_display(self, request):
        fields = list(super().get_list_display(request))
        return fields[:3] + ["total_cost", "currency"] + fields[3:] if can_see_costs(request.user) else fields

    def get_exclude(self, request, obj=None):
        return [] if can_see_costs(request.user) else ["total_cost"]

    def lookup_allowed(self, lookup, value, request=None):
        if request is not None and not can_see_costs(request.user) and _touches_costs(lookup):
            return False
        return super().lookup_allowed(lookup, value, request)

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in form.changed_data if f != "reference"}
        if change:
            lot_update(lot=obj, **data)
        else:
            created = lot_create(reference=form.cleaned_data["reference"], **data)
            obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at

    def get_urls(self):
        intake = self.admin_site.admin_view(self.intake_view)
        custom = [path("<int:lot_id>/intake/", intake, name="inventory_lot_intake")]
        return custom + super().get_urls()

    @admin.action(description="Take in units from a CSV file", permissions=["intake"])
    def intake_csv_action(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one lot to take cards into.", messages.WARNING)
            return None
        return redirect(reverse("admin:inventory_lot_intake", args=[queryset.get().pk]))

    def has_intake_permission(self, request):
        return request.user.has_perm("inventory.add_unit")

    def intake_view(self, request, lot_id):
        if not self.has_intake_permission(request):
            raise PermissionDenied
        lot = self.get_object(request, str(lot_id))
        if lot is None:
            return redirect("admin:inventory_lot_changelist")
        form = IntakeUploadForm(request.POST or None, request.FILES or None)
        errors = []
        if request.method == "POST" and form.is_valid():
            try:
                sheet = intake_read_upload(form.cleaned_data["csv_file"])
                rows = sheet.rows
                _, units = intake_import(lot_reference=lot.reference, rows=rows, actor=request.user,
                                         source="admin", dry_run=form.cleaned_data["dry_run"],
                                         allow_costs=can_see_costs(request.user))
            except IntakeRejected as exc:
                errors = exc.errors
                self.message_user(request, f"{len({e.line for e in errors})} row(s) rejected; nothing was "
                                           "imported.", messages.ERROR)
            except InvalidInput as exc:
                self.message_user(request, f"Nothing was imported: {exc}", messages.ERROR)
            else:
                if form.cleaned_data["dry_run"]:
                    self.message_user(request, f"{len(rows)} row(s) checked ({sheet.separator_name}-separated): all "
                                               "good. Nothing imported (dry run).")
                else:
                    self.message_user(request, f"Took in {len(units)} unit(s) into {lot.reference} (the file was "
                                               f"{sheet.separator_name}-separated).")
                    for warning in lot_cost_warnings(lot=lot) if can_see_costs(request.user) else []:
                        self.message_user(request, warning, messages.WARNING)
                    return redirect(reverse("admin:inventory_unit_changelist") + f"?lot__id__exact={lot.pk}")
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "lot": lot, "form": form,
                   "errors": errors, "title": f"Take cards into {lot.reference}"}
        return render(request, "admin/inventory/lot/intake.html", context)


class UnitEventInline(admin.TabularInline):
    model = UnitEvent
    fields = ["created_at", "actor_label", "kind", "from_state", "to_state", "reason", "payload"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class InspectionInline(admin.StackedInline):
    model = Inspection
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "inspected_by", "cosmetic_grade", "fan_condition", "thermal_pads",
                       "thermal_paste", "pcie_connector_damage", "bracket_present", "missing_parts", "notes"]
    fields = readonly_fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class UnitAdminForm(forms.ModelForm):
    transition_to = forms.ChoiceField(required=False, label="Move to",
                                      help_text="Only the moves the lifecycle and your role allow are listed")
    transition_reason = forms.CharField(required=False, label="Reason", widget=forms.Textarea(attrs={"rows": 2}),
                                        validators=[BLOCK_TEXT])

    class Meta:
        model = Unit
        fields = list(EDITABLE_FIELDS)

    def clean(self):
        # Checked here, before anything is saved, so a refused move never leaves the other edits half-done.
        cleaned = super().clean()
        target = cleaned.get("transition_to")
        if target and target in REASON_REQUIRED_STATES and not (cleaned.get("transition_reason") or "").strip():
            self.add_error("transition_reason", f"A reason is required to move a unit to {target}.")
        if self.instance.pk:
            try:  # what the card's valid certificate states, shown next to the field rather than after saving
                unit_stated_fields_check(self.instance, {f: cleaned[f] for f in self.changed_data if f in cleaned})
            except InvalidInput as exc:
                for field, messages_ in exc.errors.items():
                    self.add_error(field if field in self.fields else None, messages_)
        return cleaned


@admin.register(Unit)
class UnitAdmin(FilterSetAdmin):
    filterset_class = UnitFilterSet
    form = UnitAdminForm
    # State and grade next to the tag: what a person scans the list for, in view on a 1280 px screen.
    list_display = ["tag", "state_badge", "grade", "gpu_model", "serial_display", "board_vendor", "lot", "location",
                    "received_at"]
    list_display_links = ["tag"]
    list_filter = ["state", ("gpu_model", admin.RelatedOnlyFieldListFilter), ("lot", admin.RelatedOnlyFieldListFilter),
                   "cosmetic_grade", "serial_missing", "board_vendor"]
    search_fields = ["asset_tag", "serial", "board_part_number", "nvml_uuid"]
    list_select_related = ["gpu_model", "lot"]
    inlines = [InspectionInline, UnitEventInline]
    readonly_fields = ["asset_tag", "records", "gpu_model", "lot", "board_vendor", "serial", "serial_missing", "state",
                       "nvml_uuid", "pci_device_id", "pci_subsystem_id", "received_at", "state_changed_at",
                       "cosmetic_grade_with_definition"]

    def lookup_allowed(self, lookup, value, request=None):
        # Hidden columns must not be usable as filters either (?cost_basis__gte=… would reveal them).
        if request is not None and not can_see_costs(request.user) and _touches_costs(lookup):
            return False
        return super().lookup_allowed(lookup, value, request)

    @admin.display(description="cosmetic grade")
    def cosmetic_grade_with_definition(self, unit):
        if not unit.cosmetic_grade:
            return "not graded yet (set by an inspection)"
        return f"{unit.cosmetic_grade}: {COSMETIC_GRADE_DEFINITIONS[unit.cosmetic_grade]}"

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        return fields + ["cost_given", "cost_basis"] if can_see_costs(request.user) else fields

    def get_fieldsets(self, request, obj=None):
        identity = ["asset_tag", "records", "gpu_model", "lot", "board_vendor", "serial", "serial_missing",
                    "board_part_number", "vbios_version", "nvml_uuid", "pci_device_id", "pci_subsystem_id"]
        state = ["state", "state_changed_at", "transition_to", "transition_reason"]
        where = ["source_rig", "location", "cosmetic_grade_with_definition", "notes", "received_at"]
        sets = [(None, {"fields": identity}), ("Lifecycle", {"fields": state}), ("Details", {"fields": where})]
        if can_see_costs(request.user):
            sets.append(("Cost", {"fields": ["cost_given", "cost_basis"]}))
        return sets

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        mine = allowed_targets_for(request.user)
        targets = [s for s in unit_moves_for(obj) if s in mine] if obj else []
        form.base_fields["transition_to"].choices = [("", "— keep state —")] + [
            (s, UnitState(s).label) for s in targets]
        return form

    @admin.display(description="asset tag", ordering="asset_tag")
    def tag(self, unit):
        return format_html('<span style="white-space:nowrap;font-family:monospace">{}</span>', unit.asset_tag)

    @admin.display(description="state", ordering="state")
    def state_badge(self, unit):
        colour = STATE_COLOURS.get(unit.state, "#666")
        return format_html('<span style="white-space:nowrap;padding:1px 6px;border-radius:8px;color:#fff;'
                           'background:{}">{}</span>', colour, unit.get_state_display())

    @admin.display(description="grade")
    def grade(self, unit):
        """Functional (the current grade's, read for the page) / cosmetic (the inspection's)."""
        return f"{getattr(unit, 'functional_now', '') or '–'}/{unit.cosmetic_grade or '–'}"

    def get_changelist_instance(self, request):
        # The page's current functional grades in one read (the grades are the grading app's: reached through
        # the reverse relation, not imported), kept on each card object of the page.
        changelist = super().get_changelist_instance(request)
        cards = list(changelist.result_list)
        grades = Unit._meta.get_field("grades").related_model
        current = dict(grades.objects.filter(unit__in=cards, is_current=True).values_list("unit_id", "functional"))
        for unit in cards:
            unit.functional_now = current.get(unit.pk, "")
        return changelist

    @admin.display(description="records")
    def records(self, unit):
        """Where the rest of the card's story is: its runs, grades and certificates, and its page at the bench."""
        links = [(reverse("admin:testbench_testrun_changelist"), "test runs"),
                 (reverse("admin:grading_grade_changelist"), "grades (the current one marked)"),
                 (reverse("admin:grading_certificate_changelist"), "certificates")]
        return format_html("{} · <a href=\"{}\">at the bench</a> (queue a run, inspect, labels)",
                           format_html_join(" · ", '<a href="{}?q={}">{}</a>',
                                            ((url, unit.asset_tag, label) for url, label in links)),
                           reverse("workbench:unit", args=[unit.asset_tag]))

    @admin.display(description="serial", ordering="serial")
    def serial_display(self, unit):
        return "(missing)" if unit.serial_missing else unit.serial

    def has_add_permission(self, request):
        return False  # cards come in through intake (Lots → Take in units), which tags and costs them

    def has_delete_permission(self, request, obj=None):
        return False  # cards are scrapped, never deleted: their history stays

    def save_model(self, request, obj, form, change):
        changes = {f: form.cleaned_data[f] for f in form.changed_data if f in EDITABLE_FIELDS}
        target = form.cleaned_data.get("transition_to")
        with transaction.atomic():
            try:
                if changes:
                    unit_update(unit=obj, actor=request.user, **changes)
                if target:
                    unit_transition(unit=obj, to_state=target, actor=request.user,
                                    reason=form.cleaned_data.get("transition_reason", ""))
            except DomainError as exc:
                # Someone moved the card since the form was shown: keep nothing of this edit.
                transaction.set_rollback(True)
                self.message_user(request, f"Nothing was saved: {exc}", messages.ERROR)


class InspectionPhotoInline(admin.TabularInline):
    model = InspectionPhoto
    extra = 0
    readonly_fields = ["photo", "original_name"]

    def get_fields(self, request, obj=None):
        # A stored photo links to its permission-checked view, never to a file URL; a new one is uploaded.
        return ["photo", "original_name", "caption"] if obj is not None else ["image", "caption"]

    @admin.display(description="photo")
    def photo(self, photo):
        if not photo.pk:
            return "–"
        return format_html('<a href="{}" target="_blank">open</a>', reverse("inspectionphoto-image", args=[photo.pk]))


@admin.register(Inspection)
class InspectionAdmin(admin.ModelAdmin):
    list_display = ["unit", "cosmetic_grade", "fan_condition", "pcie_connector_damage", "inspected_by", "created_at"]
    list_filter = ["cosmetic_grade", "fan_condition", "thermal_pads", "pcie_connector_damage"]
    search_fields = ["unit__asset_tag", "unit__serial"]
    list_select_related = ["unit", "unit__gpu_model", "inspected_by"]
    inlines = [InspectionPhotoInline]
    raw_id_fields = ["unit"]
    readonly_fields = ["inspected_by", "created_at"]

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in form.cleaned_data if f not in ("unit", "inspected_by", "created_at")}
        created = inspection_record(unit=form.cleaned_data["unit"], actor=request.user, **data)
        obj.pk = created.pk

    def has_change_permission(self, request, obj=None):
        return False  # an inspection is a record of what was seen; a new look is a new inspection

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(UnitEvent)
class UnitEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "unit", "kind", "from_state", "to_state", "actor_label", "reason"]
    list_filter = ["kind", "to_state", "from_state"]
    search_fields = ["unit__asset_tag", "unit__serial", "reason", "actor_label"]
    list_select_related = ["unit", "unit__gpu_model"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

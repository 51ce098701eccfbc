from django import forms

from inventory.choices import COSMETIC_GRADE_DEFINITIONS, CosmeticGrade, FanCondition, RepairAction, ThermalMaterial
from inventory.models import GpuModel, Lot
from inventory.validators import LINE_TEXT
from resale.models import ReturnReason
from testbench.plans import PLANS

from .photos import photo_prepared
from .selectors import CODE_MAX

SCAN_ATTRS = {"autofocus": True, "autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters",
              "enterkeyhint": "go", "class": "scan",
              "placeholder": "scan or type: asset tag, serial, UUID, certificate"}


class ScanForm(forms.Form):
    code = forms.CharField(max_length=CODE_MAX, label="Scan", widget=forms.TextInput(attrs=SCAN_ATTRS))


class HoldForm(forms.Form):
    reason = forms.CharField(max_length=500, validators=[LINE_TEXT],
                             widget=forms.TextInput(attrs={"placeholder": "why (on each card's timeline)"}))


class LocateForm(forms.Form):
    location = forms.CharField(max_length=64, validators=[LINE_TEXT],
                               widget=forms.TextInput(attrs={"placeholder": "shelf, bin or bench"}))


class IntakeForm(forms.Form):
    serial = forms.CharField(max_length=64, label="Board serial")
    model = forms.ModelChoiceField(queryset=GpuModel.objects.order_by("vendor", "name"), to_field_name="slug",
                                   label="Model", empty_label="choose the model on the card")
    board_vendor = forms.CharField(max_length=64, label="Board maker", widget=forms.TextInput(
        attrs={"placeholder": "MSI, ASUS, Gigabyte…", "list": "vendors"}))
    lot = forms.CharField(max_length=64, label="Lot", validators=[LINE_TEXT], help_text="An existing lot's reference, "
                          "or a new one (created with the card)", widget=forms.TextInput(attrs={"list": "lots"}))

    @staticmethod
    def recent_lots():
        return Lot.objects.order_by("-created_at", "-id").values_list("reference", flat=True)[:20]


class MoveForm(forms.Form):
    to_state = forms.CharField(max_length=16)
    reason = forms.CharField(max_length=1000, required=False, validators=[LINE_TEXT])


class RepairForm(forms.Form):
    actions = forms.MultipleChoiceField(choices=RepairAction.choices, widget=forms.CheckboxSelectMultiple,
                                        label="What was done")
    note = forms.CharField(max_length=1000, required=False, label="Note",
                           widget=forms.TextInput(attrs={"placeholder": "parts, readings, what \"other\" was"}))


class QueueForm(forms.Form):
    plan = forms.ChoiceField(choices=[(name, name) for name in PLANS])


class ReturnForm(forms.Form):
    serial = forms.CharField(max_length=64, label="Scan the returned card's serial",
                             widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    order = forms.IntegerField(required=False, min_value=1, label="Order number",
                               help_text="From the return slip; without it, the order that sold this serial")
    reason = forms.ChoiceField(choices=ReturnReason.choices)
    refund = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2, initial=0)
    cost = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2, initial=0,
                              label="Return's cost", help_text="Shipping back, handling: lands on the lot's books")
    notes = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class PhotosInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several photos at once, each made fit to keep (workbench.photos), or each refused by name."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", PhotosInput(attrs={"accept": "image/*", "capture": "environment",
                                                       "multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(files) > 20:
            raise forms.ValidationError(f"{len(files)} photos: at most 20 an inspection")
        prepared, problems = [], []
        for upload in files:
            try:
                prepared.append(photo_prepared(super().clean(upload, initial)))
            except forms.ValidationError as exc:
                problems.extend(exc.messages)
        if problems:
            raise forms.ValidationError(problems)
        return prepared


class InspectionForm(forms.Form):
    cosmetic_grade = forms.ChoiceField(widget=forms.RadioSelect, label="Cosmetic grade", choices=[
        (grade.value, f"{grade.value}: {COSMETIC_GRADE_DEFINITIONS[grade]}") for grade in CosmeticGrade])
    fan_condition = forms.ChoiceField(choices=FanCondition.choices, widget=forms.RadioSelect, label="Fans")
    thermal_pads = forms.ChoiceField(choices=ThermalMaterial.choices, initial=ThermalMaterial.ORIGINAL,
                                     widget=forms.RadioSelect)
    thermal_paste = forms.ChoiceField(choices=ThermalMaterial.choices, initial=ThermalMaterial.ORIGINAL,
                                      widget=forms.RadioSelect)
    pcie_connector_damage = forms.BooleanField(required=False, label="PCIe connector damaged")
    bracket_present = forms.BooleanField(required=False, initial=True, label="Bracket present")
    missing_parts = forms.CharField(required=False, max_length=1000, help_text="e.g. backplate screws, one fan blade")
    notes = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))
    photos = PhotosField(required=False, label="Photos", help_text="From the phone's camera; several at once")

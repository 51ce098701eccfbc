from django import forms

from inventory.choices import RepairAction
from inventory.models import GpuModel, Lot
from inventory.validators import LINE_TEXT

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
    plan = forms.ChoiceField(choices=[])

    def __init__(self, *args, **kwargs):
        from testbench.plans import PLANS

        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [(name, name) for name in PLANS]


class ReturnForm(forms.Form):
    serial = forms.CharField(max_length=64, label="Scan the returned card's serial",
                             widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    order = forms.IntegerField(required=False, min_value=1, label="Order number",
                               help_text="From the return slip; without it, the order that sold this serial")
    reason = forms.ChoiceField(choices=[])
    refund = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2, initial=0)
    cost = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2, initial=0,
                              label="Return's cost", help_text="Shipping back, handling: lands on the lot's books")
    notes = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        from resale.models import ReturnReason

        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = ReturnReason.choices

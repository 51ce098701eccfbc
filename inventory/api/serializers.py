"""API serializers: shape input and output; the services do the work."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import BoundedDictField

from ..choices import COSMETIC_GRADE_DEFINITIONS, CosmeticGrade, FanCondition, ThermalMaterial, UnitState
from ..models import GpuModel, Inspection, InspectionPhoto, Lot, Unit, UnitEvent
from ..roles import allowed_targets_for, can_see_costs
from ..services.units import unit_moves_for
from ..validators import BLOCK_TEXT, LINE_TEXT

COST_FIELDS = {"total_cost", "cost_given", "cost_basis"}


class HideCostsMixin:
    """Drops purchase costs from the output for users whose role may not see them. (Writing a cost is
    refused by the view, not silently ignored.)"""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and not can_see_costs(request.user):
            for name in COST_FIELDS & set(data):
                del data[name]
        return data


class GpuModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = GpuModel
        fields = [
            "id", "slug", "vendor", "name", "aliases", "segment", "architecture", "chip", "compute_capability",
            "pci_vendor_id", "pci_device_ids", "vram_gib", "memory_type", "bus_width_bits", "memory_bandwidth_gbs",
            "fp32_tflops", "fp16_tflops", "bf16_tflops", "tdp_w", "pcie_gen", "pcie_lanes", "launch_price_usd",
            "launch_date", "stock_vbios_versions", "source",
        ]
        read_only_fields = fields  # the catalog is loaded from its file, never written through the API


class GpuModelBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = GpuModel
        fields = ["id", "slug", "vendor", "name", "vram_gib"]


class LotBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lot
        fields = ["id", "reference"]


class LotSerializer(HideCostsMixin, serializers.ModelSerializer):
    unit_count = serializers.IntegerField(read_only=True)
    total_cost = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)

    class Meta:
        model = Lot
        fields = ["id", "reference", "supplier", "purchased_on", "total_cost", "currency", "notes", "unit_count",
                  "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"currency": {"required": False}}


class UnitEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label", read_only=True)

    class Meta:
        model = UnitEvent
        fields = ["id", "created_at", "actor", "kind", "from_state", "to_state", "reason", "payload"]
        read_only_fields = fields  # events are written by the services only


class InspectionPhotoSerializer(serializers.ModelSerializer):
    image = serializers.HyperlinkedIdentityField(
        view_name="inspectionphoto-image", help_text="The photo, for users who may view inspection photos")

    class Meta:
        model = InspectionPhoto
        fields = ["id", "image", "original_name", "caption"]


class InspectionSerializer(serializers.ModelSerializer):
    photos = InspectionPhotoSerializer(many=True, read_only=True)
    inspected_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Inspection
        fields = ["id", "created_at", "inspected_by", "cosmetic_grade", "fan_condition", "thermal_pads",
                  "thermal_paste", "pcie_connector_damage", "bracket_present", "missing_parts", "notes", "photos"]


class UnitSerializer(HideCostsMixin, serializers.ModelSerializer):
    gpu_model = GpuModelBriefSerializer(read_only=True)
    lot = LotBriefSerializer(read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="unit-detail")

    class Meta:
        model = Unit
        fields = ["id", "url", "asset_tag", "gpu_model", "lot", "board_vendor", "serial", "serial_missing",
                  "source_rig", "location", "cosmetic_grade", "state", "cost_given", "cost_basis", "received_at",
                  "state_changed_at"]
        read_only_fields = fields


class UnitDetailSerializer(UnitSerializer):
    events = UnitEventSerializer(many=True, read_only=True)
    inspections = InspectionSerializer(many=True, read_only=True)
    allowed_transitions = serializers.SerializerMethodField(
        help_text="States this user may move the unit to now")

    class Meta(UnitSerializer.Meta):
        fields = UnitSerializer.Meta.fields + [
            "notes", "board_part_number", "vbios_version", "nvml_uuid", "pci_device_id", "pci_subsystem_id",
            "updated_at", "allowed_transitions", "inspections", "events",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=UnitState.choices)))
    def get_allowed_transitions(self, unit) -> list[str]:
        request = self.context.get("request")
        mine = allowed_targets_for(request.user) if request else frozenset()
        return [s for s in unit_moves_for(unit) if s in mine] if mine else []


class UnitUpdateSerializer(serializers.Serializer):
    """The fields a person may edit. Others are refused by name rather than silently ignored: the state moves
    through transition/, the cosmetic grade through inspection/, identity comes from intake and benches."""

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["cannot be changed here"] for name in unknown})
        return attrs

    location = serializers.CharField(max_length=64, allow_blank=True, required=False, validators=[LINE_TEXT])
    notes = serializers.CharField(allow_blank=True, required=False, validators=[BLOCK_TEXT])
    source_rig = serializers.CharField(max_length=64, allow_blank=True, required=False, validators=[LINE_TEXT])
    board_part_number = serializers.CharField(max_length=64, allow_blank=True, required=False, validators=[LINE_TEXT])
    vbios_version = serializers.CharField(max_length=32, allow_blank=True, required=False, validators=[LINE_TEXT])


class IntakeCardSerializer(serializers.Serializer):
    """One card for intake, with the CSV's column names. Values are checked by the intake service (control and
    format characters, serial spelling, costs), which answers for every row by line and field like a CSV's."""

    checked_by_service = True  # see tests/inventory/test_hostile_inputs.py

    model = serializers.CharField(help_text="Catalog name, alias, slug or PCI device id (10de:2206)")
    board_vendor = serializers.CharField()
    serial = serializers.CharField(help_text="Board serial, or MISSING when the card has no serial sticker")
    source_rig = serializers.CharField(required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    cost = serializers.CharField(required=False, allow_blank=True, help_text="Cost of this card; else shared")
    location = serializers.CharField(required=False, allow_blank=True)
    cosmetic_grade = serializers.CharField(required=False, allow_blank=True,
                                           help_text=" ".join(f"{k}: {v}" for k, v in
                                                              COSMETIC_GRADE_DEFINITIONS.items()))
    board_part_number = serializers.CharField(required=False, allow_blank=True)
    vbios_version = serializers.CharField(required=False, allow_blank=True)


class UnitCreateSerializer(IntakeCardSerializer):
    lot = serializers.SlugRelatedField(slug_field="reference", queryset=Lot.objects.all(),
                                       help_text="Reference of an existing lot")


class IntakeSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="CSV with a header line (see the README for columns)")
    units = IntakeCardSerializer(many=True, required=False)
    dry_run = serializers.BooleanField(default=False, help_text="Check only; import nothing")

    def validate(self, attrs):
        if bool(attrs.get("file")) == bool(attrs.get("units")):
            raise serializers.ValidationError({"file": ["send either a CSV file or a list of units, not both"
                                                        if attrs.get("file") else "send a CSV file or units"]})
        return attrs


class IntakeResultSerializer(serializers.Serializer):
    lot = LotBriefSerializer()
    dry_run = serializers.BooleanField()
    checked = serializers.IntegerField()
    separator = serializers.ChoiceField(choices=["comma", "semicolon", "tab"], allow_null=True,
                                        help_text="How the CSV file's cells were separated (null for a JSON list)")
    created = UnitSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())


class TransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=UnitState.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, validators=[BLOCK_TEXT])
    payload = BoundedDictField(required=False, help_text="Any JSON object to keep with the event (at most 32 levels "
                                                         "deep and 64 KiB as JSON)")


class InspectionCreateSerializer(serializers.Serializer):
    cosmetic_grade = serializers.ChoiceField(choices=CosmeticGrade.choices)
    fan_condition = serializers.ChoiceField(choices=FanCondition.choices)
    thermal_pads = serializers.ChoiceField(choices=ThermalMaterial.choices, default=ThermalMaterial.ORIGINAL)
    thermal_paste = serializers.ChoiceField(choices=ThermalMaterial.choices, default=ThermalMaterial.ORIGINAL)
    pcie_connector_damage = serializers.BooleanField(default=False)
    bracket_present = serializers.BooleanField(default=True)
    missing_parts = serializers.CharField(required=False, allow_blank=True, default="", validators=[BLOCK_TEXT])
    notes = serializers.CharField(required=False, allow_blank=True, default="", validators=[BLOCK_TEXT])
    photos = serializers.ListField(child=serializers.ImageField(), required=False, default=list, max_length=20)

"""Inventory models: catalog, lots, units, their append-only events, and intake inspections."""

from __future__ import annotations

import secrets
import unicodedata
from pathlib import PurePosixPath

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from .choices import CosmeticGrade, EventKind, FanCondition, GpuSegment, GpuVendor, ThermalMaterial, UnitState
from .lifecycle import Mover
from .validators import BLOCK_TEXT, LINE_TEXT, currency_validator, purchase_date_validator

HEX4 = RegexValidator(r"^[0-9a-f]{4}$", "four lowercase hex digits, e.g. 2206")
MONEY = {"max_digits": 12, "decimal_places": 2, "validators": [MinValueValidator(0)]}


class GpuModel(models.Model):
    """A GPU product from the catalog (inventory/data/gpu_catalog.toml), with its reference figures."""

    slug = models.SlugField(max_length=64, unique=True, validators=[LINE_TEXT])
    vendor = models.CharField(max_length=16, choices=GpuVendor.choices, validators=[LINE_TEXT])
    name = models.CharField(max_length=80, unique=True, help_text="Marketing name, e.g. GeForce RTX 3080",
                            validators=[LINE_TEXT])
    aliases = models.JSONField(default=list, blank=True, help_text="Other names accepted at intake")
    segment = models.CharField(max_length=16, choices=GpuSegment.choices, validators=[LINE_TEXT])
    architecture = models.CharField(max_length=32, validators=[LINE_TEXT])
    chip = models.CharField(max_length=32, validators=[LINE_TEXT])
    compute_capability = models.CharField(max_length=8, blank=True, help_text="CUDA compute capability",
                                          validators=[LINE_TEXT])
    pci_vendor_id = models.CharField("PCI vendor id", max_length=4, validators=[HEX4, LINE_TEXT])
    pci_device_ids = models.JSONField("PCI device ids", default=list, help_text="Lowercase hex PCI device ids")
    vram_gib = models.DecimalField("VRAM (GiB)", max_digits=5, decimal_places=1)
    memory_type = models.CharField(max_length=16, validators=[LINE_TEXT])
    # Datasheet figures: every catalog entry has them; a model not in the catalog (segment "uncatalogued") does not.
    bus_width_bits = models.PositiveSmallIntegerField(null=True, blank=True)
    memory_bandwidth_gbs = models.DecimalField("memory bandwidth (GB/s)", max_digits=7, decimal_places=1, null=True,
                                               blank=True)
    fp32_tflops = models.DecimalField("FP32 TFLOP/s", max_digits=8, decimal_places=3, null=True, blank=True)
    fp16_tflops = models.DecimalField(
        "FP16 TFLOP/s", max_digits=8, decimal_places=3, null=True, blank=True,
        help_text="Dense, FP32 accumulate; tensor cores where the chip has them",
    )
    bf16_tflops = models.DecimalField("BF16 TFLOP/s", max_digits=8, decimal_places=3, null=True, blank=True)
    tdp_w = models.PositiveSmallIntegerField("TDP (W)", null=True, blank=True)
    pcie_gen = models.PositiveSmallIntegerField("PCIe generation")
    pcie_lanes = models.PositiveSmallIntegerField("PCIe lanes")
    launch_price_usd = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    launch_date = models.DateField(null=True, blank=True)
    stock_vbios_versions = models.JSONField(default=list, blank=True)
    source = models.TextField(help_text="Vendor spec sheet(s) the figures come from", validators=[BLOCK_TEXT])

    class Meta:
        ordering = ["vendor", "name"]
        verbose_name = "GPU model"

    def __str__(self) -> str:
        return f"{self.get_vendor_display()} {self.name}"

    @property
    def catalogued(self) -> bool:
        return self.segment != GpuSegment.UNCATALOGUED


class Lot(models.Model):
    """A purchase of cards from a miner or broker."""

    reference = models.CharField(max_length=64, unique=True, help_text="Your purchase reference, e.g. LOT-2026-031",
                                 validators=[LINE_TEXT])
    supplier = models.CharField(max_length=200, blank=True, validators=[LINE_TEXT])
    purchased_on = models.DateField(null=True, blank=True, validators=[purchase_date_validator])
    total_cost = models.DecimalField(default=0, **MONEY)
    currency = models.CharField(max_length=3, validators=[currency_validator, LINE_TEXT],
                                help_text="ISO 4217 code, e.g. USD or EUR")
    notes = models.TextField(blank=True, validators=[BLOCK_TEXT])
    demo = models.BooleanField(default=False, editable=False,
                               help_text="A demonstration lot (make run's): simulated cards may stand in for its cards")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("view_lot_costs", "Can see purchase costs and cost basis")]

    def __str__(self) -> str:
        return self.reference


class Unit(models.Model):
    """One physical card, from intake to sale."""

    asset_tag = models.CharField(max_length=16, unique=True, editable=False, help_text="Printed on the card's label",
                                 validators=[LINE_TEXT])
    gpu_model = models.ForeignKey(GpuModel, on_delete=models.PROTECT, related_name="units",
                                  verbose_name="declared model")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="units")
    board_vendor = models.CharField(max_length=64, help_text="Board maker: MSI, EVGA, Sapphire…",
                                    validators=[LINE_TEXT])
    serial = models.CharField(max_length=64, blank=True, validators=[LINE_TEXT],
                              help_text="Board serial from the sticker, without spaces, upper case; empty if missing")
    serial_missing = models.BooleanField(default=False, help_text="The serial sticker was missing at intake")
    source_rig = models.CharField(max_length=64, blank=True, help_text="Label of the rig the card came out of",
                                  validators=[LINE_TEXT])
    board_part_number = models.CharField(max_length=64, blank=True, validators=[LINE_TEXT])
    vbios_version = models.CharField("VBIOS version", max_length=32, blank=True, validators=[LINE_TEXT])
    # Filled in once a bench has seen the card.
    nvml_uuid = models.CharField("NVML UUID", max_length=64, blank=True, validators=[LINE_TEXT])
    pci_device_id = models.CharField("PCI device id", max_length=4, blank=True, validators=[HEX4, LINE_TEXT])
    pci_subsystem_id = models.CharField("PCI subsystem id", max_length=8, blank=True, validators=[LINE_TEXT])
    location = models.CharField(max_length=64, blank=True, help_text="Storage location, e.g. shelf B3",
                                validators=[LINE_TEXT])
    cost_given = models.DecimalField(
        null=True, blank=True, help_text="Cost paid for this card, when known; else the lot's cost is shared", **MONEY
    )
    cost_basis = models.DecimalField(null=True, blank=True, editable=False, **MONEY)
    cosmetic_grade = models.CharField(max_length=1, choices=CosmeticGrade.choices, blank=True, validators=[LINE_TEXT])
    state = models.CharField(max_length=16, choices=UnitState.choices, default=UnitState.RECEIVED, editable=False,
                             db_index=True, validators=[LINE_TEXT])
    # The state a unit on hold was held from, so that lifting the hold can resume it.
    held_from = models.CharField(max_length=16, choices=UnitState.choices, blank=True, editable=False,
                                 validators=[LINE_TEXT])
    notes = models.TextField(blank=True, validators=[BLOCK_TEXT])
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    state_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        # A buyer looks a card up by the serial on its sticker (the public home page), whatever its maker.
        indexes = [models.Index(fields=["serial"], name="unit_serial_idx"),
                   # Card lists in their default order (newest first), and the stock's age filter.
                   models.Index(fields=["received_at", "id"], name="unit_received_idx")]
        constraints = [
            # Vendor compared case-blind: intake canonicalises known makers, not every maker there is.
            models.UniqueConstraint(
                Lower("board_vendor"), "serial", condition=~Q(serial=""), name="unit_vendor_serial_unique",
                violation_error_message="a unit with this board vendor and serial already exists",
            ),
            models.UniqueConstraint(fields=["nvml_uuid"], condition=~Q(nvml_uuid=""), name="unit_nvml_uuid_unique"),
            models.CheckConstraint(
                condition=Q(serial_missing=True, serial="") | (Q(serial_missing=False) & ~Q(serial="")),
                name="unit_serial_xor_missing",
            ),
            models.CheckConstraint(condition=Q(state__in=UnitState.values), name="unit_state_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_tag} ({self.gpu_model.name if self.gpu_model_id else '?'})"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValueError("unit events are append-only and cannot be changed")

    def delete(self):
        raise ValueError("unit events are append-only and cannot be deleted")


class UnitEvent(models.Model):
    """An append-only record of one lifecycle transition, or of a decision that left the state as it was (a grade
    override, a revoked certificate; then from_state == to_state). Rows are never updated or deleted."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    # Kept even if the user is deleted; also names non-user actors such as a bench host.
    actor_label = models.CharField(max_length=150, blank=True, validators=[LINE_TEXT])
    from_state = models.CharField(max_length=16, blank=True, validators=[LINE_TEXT])
    to_state = models.CharField(max_length=16, choices=UnitState.choices, validators=[LINE_TEXT])
    kind = models.CharField(max_length=24, choices=EventKind.choices, default=EventKind.TRANSITION,
                            validators=[LINE_TEXT])
    via = models.CharField(max_length=16, choices=[(m.value, m.value) for m in Mover], default=Mover.PERSON.value,
                           validators=[LINE_TEXT],
                           help_text="Who made the move: a person, or the service that holds its evidence")
    reason = models.TextField(blank=True, validators=[BLOCK_TEXT])
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["unit", "created_at"])]

    def __str__(self) -> str:
        return f"{self.from_state or '∅'} → {self.to_state}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("unit events are append-only and cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("unit events are append-only and cannot be deleted")


class Inspection(models.Model):
    """A technician's look at a card: cosmetic grade, fans, thermal material, connector, parts."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="inspections")
    inspected_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    cosmetic_grade = models.CharField(max_length=1, choices=CosmeticGrade.choices, validators=[LINE_TEXT])
    fan_condition = models.CharField(max_length=8, choices=FanCondition.choices, validators=[LINE_TEXT])
    thermal_pads = models.CharField(max_length=8, choices=ThermalMaterial.choices, default=ThermalMaterial.ORIGINAL,
                                    validators=[LINE_TEXT])
    thermal_paste = models.CharField(max_length=8, choices=ThermalMaterial.choices, default=ThermalMaterial.ORIGINAL,
                                     validators=[LINE_TEXT])
    pcie_connector_damage = models.BooleanField("PCIe connector damaged", default=False)
    bracket_present = models.BooleanField(default=True)
    missing_parts = models.TextField(blank=True, help_text="e.g. backplate screws, one fan blade",
                                     validators=[BLOCK_TEXT])
    notes = models.TextField(blank=True, validators=[BLOCK_TEXT])
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Inspection of {self.unit_id} ({self.cosmetic_grade})"


def photo_original_name(name: str) -> str:
    """The name a photo had on the uploader's device, kept as metadata only: base name, no control or format
    characters, at most 255 characters."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    return "".join(c for c in base if unicodedata.category(c) not in {"Cc", "Cf", "Cs"})[:255]


def inspection_photo_path(photo: InspectionPhoto, filename: str) -> str:
    """Where a photo is stored: a random name (128 bits), so that a path says nothing and cannot be guessed; the
    uploader's name is kept in original_name. Photos are served only through the API (docs/deploy.md)."""
    if not photo.original_name:
        photo.original_name = photo_original_name(filename)  # the admin's inline form sets it no other way
    suffix = PurePosixPath(filename).suffix.lower()
    suffix = suffix if suffix[1:].isalnum() and suffix.isascii() and len(suffix) <= 6 else ""
    return f"inspections/{timezone.now():%Y/%m}/{secrets.token_hex(16)}{suffix}"


class InspectionPhoto(models.Model):
    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to=inspection_photo_path)
    original_name = models.CharField(max_length=255, blank=True, editable=False, validators=[LINE_TEXT],
                                     help_text="The file's name on the uploader's device (not used to store it)")
    caption = models.CharField(max_length=200, blank=True, validators=[LINE_TEXT])

    def __str__(self) -> str:
        return self.caption or self.original_name or f"photo {self.pk}"

"""The GPU catalog: loading it from the data file, and resolving what a technician typed to one model."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from core.errors import InvalidInput

from ..catalog_file import CATALOG_FILE, model_name_key
from ..choices import GpuSegment
from ..models import GpuModel

DECIMAL_FIELDS = ("vram_gib", "memory_bandwidth_gbs", "fp32_tflops", "fp16_tflops", "bf16_tflops", "launch_price_usd")
OPTIONAL_FIELDS = ("fp16_tflops", "bf16_tflops", "launch_price_usd", "launch_date")


def _catalog_entries(path: Path) -> list[dict]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise InvalidInput({"file": [f"{path} does not exist"]}) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput({"file": [f"{path} is not valid TOML: {exc}"]}) from None
    entries = data.get("gpu")
    if not isinstance(entries, list) or not entries:
        raise InvalidInput({"file": [f"{path} has no [[gpu]] entries"]})
    return entries


def catalog_load(path: Path | None = None) -> tuple[int, int]:
    """Create or update every catalog entry from the data file, keyed by slug. All or nothing.
    Returns (created, updated)."""
    path = path or CATALOG_FILE
    entries = _catalog_entries(path)
    field_names = {f.name for f in GpuModel._meta.get_fields() if f.concrete and f.name != "id"}
    created = updated = 0
    errors: dict[str, list[str]] = {}
    with transaction.atomic():
        existing = {m.slug: m for m in GpuModel.objects.all()}
        for index, entry in enumerate(entries, start=1):
            label = entry.get("slug") or f"entry {index}"
            unknown = set(entry) - field_names
            if unknown:
                errors[label] = [f"unknown keys: {', '.join(sorted(unknown))}"]
                continue
            values = {field: entry.get(field) for field in field_names if field != "slug"}
            for field in OPTIONAL_FIELDS:
                values.setdefault(field, None)
            for field in DECIMAL_FIELDS:
                if values.get(field) is not None:
                    values[field] = Decimal(str(values[field]))
            model = existing.get(entry.get("slug")) or GpuModel(slug=entry.get("slug"))
            for field, value in values.items():
                if value is not None or field in OPTIONAL_FIELDS:
                    setattr(model, field, value)
            try:
                model.full_clean(validate_unique=False)
            except ValidationError as exc:
                errors[label] = [f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()]
                continue
            is_new = model.pk is None
            model.save()
            created, updated = created + is_new, updated + (not is_new)
        if errors:
            transaction.set_rollback(True)
            raise InvalidInput(errors)
    return created, updated


def uncatalogued_model(*, name: str, pci_vendor_id: str, pci_device_id: str, vram_bytes: int,
                       compute_capability: str = "", pcie_gen=None, pcie_lanes=None, seen_by: str = "") -> GpuModel:
    """The model of a card the catalog does not list, as the card describes itself (its name, PCI id, memory,
    compute capability and widest link), without datasheet figures: one per PCI id, so that the cards of it build a
    fleet to judge each other by. `catalog_load` never touches it; adding the board to the catalog file is the way
    to give it figures."""
    vendor, device = pci_vendor_id.lower(), pci_device_id.lower()
    prefix = "NVIDIA " if name.startswith("NVIDIA ") else "AMD " if name.startswith("AMD ") else ""
    shown = (name.removeprefix(prefix).strip() or f"{vendor}:{device}")[:64]
    slug = f"uncatalogued-{vendor}-{device}"
    if GpuModel.objects.filter(name=shown).exclude(slug=slug).exists():  # names are unique: the id tells them apart
        shown = f"{shown} ({vendor}:{device})"
    model, _ = GpuModel.objects.get_or_create(slug=slug, defaults={
        "vendor": "amd" if vendor == "1002" else "nvidia", "name": shown,
        "aliases": [name[:80]], "segment": GpuSegment.UNCATALOGUED, "architecture": "", "chip": "",
        "compute_capability": compute_capability[:8], "pci_vendor_id": vendor, "pci_device_ids": [device],
        "vram_gib": Decimal(str(round(vram_bytes / 2**30, 1))), "memory_type": "",
        "pcie_gen": pcie_gen or 0, "pcie_lanes": pcie_lanes or 0,
        "source": f"not in the catalog: described by the card itself{' (' + seen_by + ')' if seen_by else ''}"})
    return model


_PCI_ID = re.compile(r"^(?:(?P<vendor>[0-9a-f]{4})[:\s])?(?:0x)?(?P<device>[0-9a-f]{4})$")


@dataclass(frozen=True)
class Resolution:
    model: GpuModel | None
    error: str = ""


class CatalogIndex:
    """An in-memory index of the catalog (a few dozen rows), so a batch of rows resolves with no queries."""

    def __init__(self, models: list[GpuModel] | None = None):
        self.models = list(GpuModel.objects.all()) if models is None else models
        self.by_key: dict[str, dict[int, GpuModel]] = {}
        self.by_pci: dict[tuple[str, str], dict[int, GpuModel]] = {}
        for model in self.models:
            for name in (model.slug, model.name, f"{model.get_vendor_display()} {model.name}", *model.aliases):
                self.by_key.setdefault(model_name_key(name), {})[model.pk] = model
            for device_id in model.pci_device_ids:
                self.by_pci.setdefault((model.pci_vendor_id, device_id.lower()), {})[model.pk] = model

    def resolve(self, text: str) -> Resolution:
        """A model for a catalog name, alias, slug or PCI id (10de:2206, 0x2206, 2206); else an error to show."""
        raw = (text or "").strip()
        if not raw:
            return Resolution(None, "missing required field")
        matches = self.by_key.get(model_name_key(raw), {})
        if not matches:
            pci = _PCI_ID.match(raw.lower())
            if pci:
                vendor, device = pci.group("vendor"), pci.group("device")
                matches = {pk: m for (v, d), found in self.by_pci.items() if d == device and vendor in (None, v)
                           for pk, m in found.items()}
        if len(matches) == 1:
            return Resolution(next(iter(matches.values())))
        if len(matches) > 1:
            names = ", ".join(sorted(m.name for m in matches.values()))
            return Resolution(None, f"{raw!r} is ambiguous: it matches {names}; give the model name")
        return Resolution(None, f"unknown model {raw!r}: not a catalog name, alias or PCI device id")

"""The reference figures a check compares a card with: its declared model's catalog entry, without the database.

Built from the catalog file (for simulated batches and tests) or from an inventory GpuModel row (for real runs),
so the checks never import Django models.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache

from inventory.catalog_file import CATALOG_FILE


@dataclass(frozen=True)
class ModelReference:
    slug: str
    name: str  # marketing name without vendor, e.g. "GeForce RTX 3080"
    vendor: str
    pci_vendor_id: str
    pci_device_ids: tuple[str, ...]
    vram_bytes: int
    memory_bandwidth_gbs: float
    fp32_tflops: float
    fp16_tflops: float | None
    bf16_tflops: float | None
    tdp_w: float
    pcie_gen: int
    pcie_lanes: int
    compute_capability: str = ""
    memory_type: str = ""
    stock_vbios_versions: tuple[str, ...] = ()
    catalogued: bool = True  # False: described by what the card itself reports (reference_from_identity)

    @property
    def full_name(self) -> str:
        return ("NVIDIA " if self.vendor == "nvidia" else "AMD ") + self.name


def _from_values(values: dict) -> ModelReference:
    def number(key):
        value = values.get(key)
        return float(value) if value is not None else None

    return ModelReference(
        slug=values["slug"], name=values["name"], vendor=values["vendor"], pci_vendor_id=values["pci_vendor_id"],
        pci_device_ids=tuple(d.lower() for d in values["pci_device_ids"]),
        vram_bytes=int(float(values["vram_gib"]) * 2**30), memory_bandwidth_gbs=number("memory_bandwidth_gbs"),
        fp32_tflops=number("fp32_tflops"), fp16_tflops=number("fp16_tflops"), bf16_tflops=number("bf16_tflops"),
        tdp_w=number("tdp_w"), pcie_gen=int(values["pcie_gen"]), pcie_lanes=int(values["pcie_lanes"]),
        compute_capability=values.get("compute_capability") or "", memory_type=values.get("memory_type") or "",
        stock_vbios_versions=tuple(values.get("stock_vbios_versions") or ()),
        catalogued=values.get("segment") != UNCATALOGUED,
    )


@cache  # read once per process: identity checks and every simulated card look it up
def catalog_references() -> dict[str, ModelReference]:
    with open(CATALOG_FILE, "rb") as handle:
        return {entry["slug"]: _from_values(entry) for entry in tomllib.load(handle)["gpu"]}


def reference_from_model(gpu_model) -> ModelReference:
    """From an inventory.models.GpuModel row."""
    fields = ("slug", "name", "vendor", "pci_vendor_id", "pci_device_ids", "vram_gib", "memory_bandwidth_gbs",
              "fp32_tflops", "fp16_tflops", "bf16_tflops", "tdp_w", "pcie_gen", "pcie_lanes", "compute_capability",
              "memory_type", "stock_vbios_versions", "segment")
    return _from_values({f: getattr(gpu_model, f) for f in fields})


UNCATALOGUED = "uncatalogued"  # inventory.choices.GpuSegment.UNCATALOGUED, the segment of such a model's row


def reference_from_identity(identity) -> ModelReference:
    """A card the catalog does not know, described by what it reports: its name, PCI id, memory, compute capability
    and the widest link it is built for, and no datasheet figures, so that every check runs and performance has no
    reference until enough cards of it have been tested (the fleet's median)."""
    from .hardware.base import supported  # no torch here: base imports it for type checking only

    prefix = "NVIDIA " if identity.name.startswith("NVIDIA ") else "AMD " if identity.name.startswith("AMD ") else ""
    return ModelReference(
        slug=f"{UNCATALOGUED}-{identity.pci_vendor_id}-{identity.pci_device_id}",
        name=identity.name.removeprefix(prefix).strip() or identity.name,
        vendor="amd" if identity.pci_vendor_id == "1002" else "nvidia",
        pci_vendor_id=identity.pci_vendor_id, pci_device_ids=(identity.pci_device_id,),
        vram_bytes=identity.vram_total_bytes, memory_bandwidth_gbs=None, fp32_tflops=None, fp16_tflops=None,
        bf16_tflops=None, tdp_w=None,
        pcie_gen=identity.pcie_max_generation if supported(identity.pcie_max_generation) else 0,
        pcie_lanes=identity.pcie_max_width if supported(identity.pcie_max_width) else 0,
        compute_capability=identity.compute_capability or "", catalogued=False,
    )


# PCI subsystem vendor ids of the board makers mining cards come from (the board vendor NVML does not name).
BOARD_VENDORS = {
    "10de": "NVIDIA", "1002": "AMD", "1043": "ASUS", "1458": "Gigabyte", "1462": "MSI", "3842": "EVGA",
    "19da": "Zotac", "1569": "Palit", "10b0": "Gainward", "196e": "PNY", "1682": "XFX", "174b": "Sapphire",
    "148c": "PowerColor", "1849": "ASRock", "7377": "Colorful", "1b4c": "KFA2", "1da2": "Sapphire",
    "1787": "HIS", "1028": "Dell", "103c": "HP", "17aa": "Lenovo", "1acc": "Point of View", "1642": "Bitland",
}


def board_vendor_for(pci_subsystem_id: str) -> str:
    """The board maker from a PCI subsystem id ('sssvvvv': subsystem device, then subsystem vendor)."""
    vendor = (pci_subsystem_id or "")[-4:].lower()
    return BOARD_VENDORS.get(vendor, f"unknown (subsystem vendor {vendor or '?'})")

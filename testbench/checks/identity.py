"""Identity: is the card what it was sold as, and what did its mining life leave behind?

A re-flashed fake reports the name of a dearer card while its PCI device id and memory size still say what the
silicon is; a mining VBIOS or a lowered power limit is a leftover the buyer should know about (and the bench resets
the power limit where it may).
"""

from __future__ import annotations

from inventory.catalog_file import model_name_key

from ..hardware.base import supported
from ..reference import ModelReference, catalog_references
from .base import CheckContext, CheckResult
from .findings import Findings
from .limits import POWER_LIMIT_LEFTOVER, VRAM_TOLERANCE, source


def identity_check(ctx: CheckContext, *, declared: ModelReference, may_reset: bool = True) -> CheckResult:
    device = ctx.device
    identity = device.identity()
    ctx.report(0.3, "comparing with the declared model")
    found = Findings()
    evidence: dict = {"detected": identity.as_dict(), "declared": declared.slug}

    if not declared.catalogued:
        found.warn("identity.not_in_catalog", f"{identity.name} ({identity.pci_vendor_id}:{identity.pci_device_id}) "
                   "is not in the catalog: tested without datasheet figures",
                   measured=f"{identity.pci_vendor_id}:{identity.pci_device_id}",
                   threshold="inventory/data/gpu_catalog.toml")
    if model_name_key(identity.name) != model_name_key(declared.name):
        found.fail("identity.model_mismatch", f"reports itself as {identity.name!r}, declared as "
                   f"{declared.full_name!r}", measured=identity.name, threshold=declared.full_name)
    if identity.pci_device_id not in declared.pci_device_ids or identity.pci_vendor_id != declared.pci_vendor_id:
        owners = [r.full_name for r in catalog_references().values()
                  if identity.pci_device_id in r.pci_device_ids and r.pci_vendor_id == identity.pci_vendor_id]
        silicon = f" (that id belongs to {', '.join(owners)})" if owners else ""
        found.fail("identity.pci_id_mismatch", f"PCI id {identity.pci_vendor_id}:{identity.pci_device_id} is not "
                   f"a {declared.name}{silicon}", measured=f"{identity.pci_vendor_id}:{identity.pci_device_id}",
                   threshold=[f"{declared.pci_vendor_id}:{d}" for d in declared.pci_device_ids],
                   source="the catalog's pci_device_ids")
        evidence["pci_id_owners"] = owners
    # Boards with ECC GDDR memory (workstation and datacenter cards) give 1/16 of it to the check bits while ECC is
    # on, and NVML reports the rest: either size is the declared model's.
    sizes = [declared.vram_bytes] + ([declared.vram_bytes * 15 / 16] if declared.memory_type.startswith("GDDR6")
                                     and not declared.memory_type.startswith("GDDR6X") else [])
    if identity.vram_total_bytes and all(abs(identity.vram_total_bytes - size) > size * VRAM_TOLERANCE
                                         for size in sizes):
        found.fail("identity.memory_size_mismatch", f"{identity.vram_total_bytes / 2**30:.1f} GiB of memory, a "
                   f"{declared.name} has {declared.vram_bytes / 2**30:.0f} GiB",
                   measured=round(identity.vram_total_bytes / 2**30, 2),
                   threshold={"gib": round(declared.vram_bytes / 2**30, 2), "tolerance": VRAM_TOLERANCE},
                   source=source("VRAM_TOLERANCE"))

    ctx.report(0.6, "mining leftovers")
    vbios = identity.vbios_version
    if declared.stock_vbios_versions and supported(vbios) and vbios not in declared.stock_vbios_versions:
        found.warn("identity.non_stock_vbios", f"non-stock VBIOS {vbios} (stock: "
                   f"{', '.join(declared.stock_vbios_versions)})", measured=vbios,
                   threshold=list(declared.stock_vbios_versions), source="the catalog's stock_vbios_versions")
    evidence["vbios_known_stock"] = list(declared.stock_vbios_versions)
    sample = device.telemetry()
    limit, default = sample.power_limit_w, sample.power_default_limit_w
    if supported(limit) and supported(default) and default and limit < default * POWER_LIMIT_LEFTOVER:
        reset = may_reset and device.reset_power_limit()
        evidence["power_limit"] = {"found_w": limit, "default_w": default, "reset": bool(reset)}
        found.warn("identity.mining_power_limit", f"power limit {limit:.0f} W of a {default:.0f} W default, left "
                   "from mining" + ("; reset to default" if reset else "; the bench may not reset it"),
                   measured=limit, threshold=round(default * POWER_LIMIT_LEFTOVER, 1),
                   source=source("POWER_LIMIT_LEFTOVER"))

    offsets = device.clock_offsets()
    set_offsets = {k: v for k, v in offsets.items() if supported(v) and v}
    if set_offsets:
        reset = may_reset and device.reset_clock_offsets()
        evidence["clock_offsets"] = {**{k: v if supported(v) else None for k, v in offsets.items()},
                                     "reset": bool(reset)}
        text = ", ".join(f"{k.removesuffix('_mhz')} {v:+d} MHz" for k, v in set_offsets.items())
        found.warn("identity.mining_clock_offsets", f"clock offsets {text}, left from mining"
                   + ("; reset to 0" if reset else "; the bench may not reset them"), measured=set_offsets,
                   threshold=0)

    codes = {f.code for f in found}
    metrics = {"name_matches": "identity.model_mismatch" not in codes,
               "pci_id_matches": "identity.pci_id_mismatch" not in codes,
               "vram_gib": round(identity.vram_total_bytes / 2**30, 2),
               "vbios_version": vbios if supported(vbios) else None,
               **{f"clock_offset_{k}": v if supported(v) else None for k, v in offsets.items()}}
    result = CheckResult.from_findings("identity", found, f"{identity.name} as declared", metrics, evidence)
    if found.failed:
        result.summary = "identity mismatch: " + result.summary
    return result

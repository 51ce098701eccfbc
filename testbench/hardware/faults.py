"""Fault plans for the simulated device: what is wrong with a card, and where, so the checks can find it.

A plan is data (seeded, combinable); SimulatedDevice applies it in the real data path: stuck and weak cells corrupt
the very buffer the VRAM check reads back, silent data corruption perturbs the GEMM output the compute check
compares, and so on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

PROFILES = (
    "healthy", "vram_stuck_bit", "vram_weak_cells", "compute_sdc", "thermal_runaway", "fan_failed",
    "pcie_degraded", "mining_vbios", "underperformer", "fake_model", "fell_off_bus",
)


@dataclass(frozen=True)
class StuckBit:
    address: int  # byte address of the 32-bit word
    bit: int
    value: int  # 0 or 1


@dataclass(frozen=True)
class WeakCell:
    address: int
    bit: int
    delay_s: float  # simulated seconds a 1 holds before it leaks to 0


@dataclass
class FaultPlan:
    profiles: tuple[str, ...] = ()
    stuck_bits: list[StuckBit] = field(default_factory=list)
    weak_cells: list[WeakCell] = field(default_factory=list)
    sdc_fraction: float = 0.0  # share of GEMM output elements corrupted (FP64 units, a separate part, stay good)
    sdc_repeatable: bool = False  # wrong the same way every time (the same elements, the same bit)
    thermal_resistance_factor: float = 1.0  # dried pads / paste: heat leaves the die more slowly
    hotspot_extra_c: float = 0.0  # dried pads show first as a wide hotspot-to-core delta
    fan_failed: bool = False
    pcie_link: tuple[int, int] | None = None  # (generation, width) the link trained at
    vbios_version: str | None = None  # a non-stock (mining) VBIOS
    power_limit_factor: float = 1.0  # miners undervolt/limit power; left behind in the VBIOS or driver
    core_offset_mhz: int = 0  # V/F curve offsets a miner set: core down, memory up
    memory_offset_mhz: int = 0
    clock_cap_factor: float = 1.0  # share of the nominal clock the card can hold
    fake_model_slug: str | None = None  # the board reports another model than the one declared
    fall_off_bus_after_ops: int | None = None  # the device stops answering after this many operations

    @property
    def is_healthy(self) -> bool:
        return not self.profiles or set(self.profiles) == {"healthy"}


def build_fault_plan(profiles: list[str] | tuple[str, ...], *, seed: int, memory_bytes: int) -> FaultPlan:
    """A plan for the named profiles, placed at random (seeded) in `memory_bytes` of simulated VRAM."""
    unknown = [p for p in profiles if p not in PROFILES]
    if unknown:
        raise ValueError(f"unknown fault profile(s): {', '.join(unknown)}; known: {', '.join(PROFILES)}")
    rng = random.Random(seed)
    plan = FaultPlan(profiles=tuple(profiles))
    words = memory_bytes // 4
    # Faults lie in the first 90% of memory: the VRAM check covers at least 95% of what is free.
    usable_words = int(words * 0.9)

    def address() -> int:
        return rng.randrange(usable_words) * 4

    for profile in profiles:
        if profile == "vram_stuck_bit":
            # One bad cell: one data bit of one word stuck at 0 or 1.
            plan.stuck_bits.append(StuckBit(address(), rng.randrange(32), rng.randrange(2)))
        elif profile == "vram_weak_cells":
            # Scattered cells that lose their charge after a while (bit fade): found by the retention phase.
            plan.weak_cells.extend(WeakCell(address(), rng.randrange(32), rng.uniform(2.0, 6.0))
                                   for _ in range(rng.randint(3, 8)))
        elif profile == "compute_sdc":
            plan.sdc_fraction = rng.uniform(1e-4, 1e-3)
        elif profile == "thermal_runaway":
            plan.thermal_resistance_factor = rng.uniform(2.2, 2.8)
            plan.hotspot_extra_c = rng.uniform(24.0, 32.0)
        elif profile == "fan_failed":
            plan.fan_failed = True
        elif profile == "pcie_degraded":
            plan.pcie_link = (1, 1)  # x1 gen1, as on a USB mining riser
        elif profile == "mining_vbios":
            plan.vbios_version = rng.choice(["94.02.42.C0.0D", "86.04.7A.00.13", "90.04.23.00.5F"])
            plan.power_limit_factor = rng.uniform(0.55, 0.75)
            plan.core_offset_mhz = -rng.randrange(100, 301, 25)
            plan.memory_offset_mhz = rng.randrange(800, 1401, 50)
        elif profile == "underperformer":
            plan.clock_cap_factor = rng.uniform(0.45, 0.6)
        elif profile == "fake_model":
            plan.fake_model_slug = "geforce-gtx-1060-6gb"
        elif profile == "fell_off_bus":
            plan.fall_off_bus_after_ops = rng.randint(20, 60)
    return plan

"""Fault plans for the simulated device: what is wrong with a card, and where, so the checks can find it.

A plan is data (seeded, combinable); SimulatedDevice applies it in the real data path: stuck and weak cells corrupt
the very buffer the VRAM check reads back, silent data corruption perturbs the GEMM output the compute check
compares, and so on. `apply_cell_faults` and `flip_top_exponent_bits` are those corruptions, shared with
FaultInjectingDevice, which plants the same faults in a real GPU's memory and GEMM output.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from .base import DeviceBuffer

PROFILES = (
    "healthy", "vram_stuck_bit", "vram_weak_cells", "compute_sdc", "thermal_runaway", "fan_failed",
    "pcie_degraded", "mining_vbios", "underperformer", "fake_model", "fell_off_bus", "vram_transient_reads",
    "fan_blocked",
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


@dataclass(frozen=True)
class TransientRead:
    address: int
    bit: int  # read wrong once, right on the re-read: the cell holds its data, the read went wrong


@dataclass
class FaultPlan:
    profiles: tuple[str, ...] = ()
    stuck_bits: list[StuckBit] = field(default_factory=list)
    weak_cells: list[WeakCell] = field(default_factory=list)
    transient_reads: list[TransientRead] = field(default_factory=list)
    sdc_fraction: float = 0.0  # share of GEMM output elements corrupted (FP64 units, a separate part, stay good)
    sdc_repeatable: bool = False  # wrong the same way every time (the same elements, the same bit)
    thermal_resistance_factor: float = 1.0  # dried pads / paste: heat leaves the die more slowly
    hotspot_extra_c: float = 0.0  # dried pads show first as a wide hotspot-to-core delta
    fan_failed: bool = False
    fan_blocked: bool = False  # something jams the fan: it is asked for air, turns at a crawl (its tachometer says so)
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
        elif profile == "vram_transient_reads":
            # A few words that read wrong once (a marginal memory clock, signal integrity), each at one moment.
            plan.transient_reads.extend(TransientRead(address(), rng.randrange(32)) for _ in range(rng.randint(1, 3)))
        elif profile == "fan_blocked":
            plan.fan_blocked = True
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


def apply_cell_faults(plan: FaultPlan, buffer: DeviceBuffer, now: float,
                      weak_state: dict[int, tuple[int, float]]) -> None:
    """Make `buffer` hold what the plan's faulty cells would hold at time `now` (seconds): the corruption the VRAM
    check must find. Works on the buffer's own tensor, on whatever device it lives. `weak_state` remembers, per weak
    cell, the value last written there and since when (the caller keeps it between calls)."""
    start, end = buffer.address, buffer.address + buffer.words * 4
    words = buffer.tensor
    for fault in plan.stuck_bits:
        if start <= fault.address < end:
            index = (fault.address - start) // 4
            mask = bit_mask(fault.bit)
            words[index] = (words[index] | mask) if fault.value else (words[index] & ~mask)
    for read in plan.transient_reads:
        if not start <= read.address < end:
            continue
        index = (read.address - start) // 4
        state = weak_state.get(("transient", read.address))
        if state is None:  # the one wrong reading: the word shows a flipped bit until it is read again
            flipped = int(words[index]) ^ bit_mask(read.bit)
            weak_state[("transient", read.address)] = (flipped, int(words[index]))
            words[index] = flipped
        elif state != "done":
            shown, held = state
            if int(words[index]) == shown:  # not written since: the re-read sees what the cell holds
                words[index] = held
            weak_state[("transient", read.address)] = "done"
    for cell in plan.weak_cells:
        if not start <= cell.address < end:
            continue
        index = (cell.address - start) // 4
        value = int(words[index])
        last = weak_state.get(cell.address)
        if last is None or last[0] != value:
            weak_state[cell.address] = (value, now)  # freshly written: the cell holds, for now
        elif value & bit_mask(cell.bit) and now - last[1] >= cell.delay_s:
            words[index] = value & ~bit_mask(cell.bit)  # the charge has leaked away
            weak_state[cell.address] = (int(words[index]), now)


def flip_top_exponent_bits(result: torch.Tensor, fraction: float, generator: torch.Generator) -> None:
    """Silent data corruption as a bit flip in a GEMM's output: the top exponent bit of a share of the elements,
    which makes a value of magnitude >= 2 nearly zero and a smaller one enormous. `generator` (a CPU one) picks
    which elements; the flip happens in `result` where it lives."""
    import torch

    int_dtype, bit = {torch.float32: (torch.int32, 30), torch.float16: (torch.int16, 14),
                      torch.bfloat16: (torch.int16, 14)}[result.dtype]
    # Through a detached view: a flip is the hardware's, not an operation autograd should see (the ai check trains
    # through these products).
    flat = result.detach().view(-1).view(int_dtype)
    count = max(1, round(flat.numel() * fraction))
    positions = torch.randint(flat.numel(), (count,), generator=generator).to(flat.device)
    flat[positions] = torch.bitwise_xor(flat[positions], torch.tensor(1 << bit, dtype=int_dtype, device=flat.device))


def bit_mask(bit: int) -> int:
    """The int32 mask of `bit` (bit 31 is the sign bit of a torch int32)."""
    return -(1 << 31) if bit == 31 else 1 << bit

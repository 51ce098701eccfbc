"""A simulated GPU: the same torch kernels on the CPU, a plausible thermal/power model, and real injected faults.

Named like a real board (specs from the catalog file), stateful, and seeded. Time runs `time_scale` times faster
than the wall clock, so that a thermal soak of minutes passes in seconds; memory is a scaled-down VRAM of
`memory_bytes`, addressed like a device (a bump allocator hands out address ranges).
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
import uuid as uuid_module

import torch

from ..reference import ModelReference, catalog_references
from .base import (
    NOT_SUPPORTED,
    THROTTLE_GPU_IDLE,
    THROTTLE_HW_SLOWDOWN,
    THROTTLE_SW_POWER_CAP,
    THROTTLE_SW_THERMAL,
    DeviceBuffer,
    DeviceIdentity,
    DeviceLost,
    GpuDevice,
    TelemetrySample,
    first_fit,
    pcie_link_gbs,
)
from .faults import FaultPlan, apply_cell_faults, flip_top_exponent_bits

DEFAULT_MEMORY_BYTES = 64 * 2**20
AMBIENT_C = 25.0
THERMAL_TAU_S = 40.0  # simulated seconds for the die to reach ~63% of a temperature step
THERMAL_LIMIT_C = 83.0  # where the driver starts pulling clocks (sw thermal slowdown)
HW_SLOWDOWN_C = 95.0
NOMINAL_SM_CLOCK_MHZ = 1800
NOMINAL_MEM_CLOCK_MHZ = 9500
QUEUE_GAP_S = 0.005  # host-side gaps shorter than this (wall clock) count as busy
THERMAL_STEP_S = 1.0  # integration step of the thermal model, simulated seconds
FAN_MAX_RPM = 3300  # a typical axial fan at 100 %
BLOCKED_FAN_RPM_SHARE = 0.04  # a jammed fan twitches: a few % of its speed, whatever it is asked
FULL_LOAD_POWER_SHARE = 0.97  # of the board's TDP, drawn at full load and full clock
# The device clock: the time operations take on a simulated card is the model's, not the host CPU's (a CPU is no
# RTX 3080, and its timing on a shared machine is noise). The data path stays real: every byte is really copied and
# every GEMM really computed. A healthy card reaches these shares of its datasheet peaks with plain torch.
SIM_EFFICIENCY = {"memory": 0.87, "fp32": 0.83, "fp16": 0.74, "bf16": 0.74}
_DTYPE_KEYS = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}
SIM_BOARD_VENDORS = ("1462", "3842", "1458", "1043", "19da", "1569")  # MSI, EVGA, Gigabyte, ASUS, Zotac, Palit
DMA_EFFICIENCY = 0.82  # share of the raw link rate a pinned DMA copy reaches (packet headers, flow control)
DMA_LATENCY_S = 8e-6  # setup cost of one transfer
SKINNY_ROWS = 64  # a product with no more rows (or columns) than this reads more than it computes on any GPU


def board_spec(slug: str) -> ModelReference:
    """The reference spec of a catalog model, read from the catalog file (no database needed)."""
    references = catalog_references()
    if slug not in references:
        raise ValueError(f"unknown catalog slug {slug!r}")
    return references[slug]


class SimulatedDevice(GpuDevice):
    def __init__(self, *, slug: str = "geforce-rtx-3080", index: int = 0, seed: int = 0,
                 faults: FaultPlan | None = None, memory_bytes: int = DEFAULT_MEMORY_BYTES,
                 time_scale: float = 30.0, serial: str | None = None, uuid: str | None = None,
                 spec: ModelReference | None = None):
        """`spec`: a board the catalog does not know (its figures drive the simulation; the card reports its name
        and PCI id), instead of the catalog's `slug`."""
        self.spec = spec or board_spec(slug)
        slug = self.spec.slug
        self.index = index
        self.label = f"sim{index}"
        self.seed = seed
        self.faults = faults or FaultPlan()
        self.memory_bytes = memory_bytes
        self.time_scale = time_scale
        digest = hashlib.sha256(f"{slug}:{index}:{seed}".encode()).hexdigest()
        self.uuid = uuid or f"GPU-{uuid_module.UUID(digest[:32])}"
        # None: a serial made up from the seed; "": the card reports none (NVML gives no serial on most GeForce boards).
        self.serial = f"SIM{int(digest[32:44], 16) % 10**12:012d}" if serial is None else (serial or NOT_SUPPORTED)
        self._lock = threading.RLock()
        self._allocations: dict[int, int] = {}  # address -> bytes
        self._ops = 0
        self._lost = False
        # Thermal and load state, in simulated seconds.
        self._started = time.monotonic()
        self._sim_now = 0.0
        self._temp_c = AMBIENT_C + 8.0
        self._busy_until = 0.0
        self._busy_accum: list[tuple[float, float]] = []  # (start, end) busy intervals, simulated time
        self._throttle_seen = 0
        self._weak_state: dict[int, tuple[int, float]] = {}  # address -> (word value last written, since)
        self._sdc_generator = torch.Generator().manual_seed(seed * 7919 + 17)
        self._timing_jitter = random.Random(seed * 31 + 5)
        self._device_clock_s = 0.0  # simulated seconds of device work done so far (see SIM_EFFICIENCY)

    # --- time and load -------------------------------------------------------------------------------
    def _now(self) -> float:
        return (time.monotonic() - self._started) * self.time_scale

    def _mark_busy(self, wall_start: float, wall_end: float) -> None:
        start = (wall_start - self._started) * self.time_scale
        end = (wall_end - self._started) * self.time_scale
        # A real GPU runs queued kernels back to back while the host prepares the next: short host-side gaps
        # between operations are not idle time.
        if self._busy_accum and start - self._busy_accum[-1][1] < QUEUE_GAP_S * self.time_scale:
            start = self._busy_accum.pop()[0]
        self._busy_accum.append((start, end))
        cutoff = end - 2.0 * self.time_scale
        self._busy_accum = [(s, e) for s, e in self._busy_accum if e > cutoff]

    def _utilization(self, now: float) -> float:
        window = 0.25 * self.time_scale  # a quarter of a wall-clock second, like NVML's short sampling period
        busy = sum(max(0.0, min(e, now) - max(s, now - window)) for s, e in self._busy_accum)
        return max(0.0, min(1.0, busy / window))

    def _advance(self) -> tuple[float, float, float, int]:
        """Integrate the thermal model up to now; return (load, power, fan %, throttle mask).

        Heat in = power, which follows load up to the power limit and falls with the clock when the card
        throttles; heat out through a thermal resistance that the fan lowers and dried pads raise. Temperature
        approaches the resulting steady state with time constant THERMAL_TAU_S.
        """
        now = self._now()
        load = self._utilization(now)
        throttle = self._throttle_at(self._temp_c, load)
        idle_w = 0.12 * self.spec.tdp_w
        limit = self._power_limit()
        remaining = max(0.0, now - self._sim_now)
        # Small steps, so that the fan (which follows the temperature) keeps up over a long gap between readings.
        while True:
            # A healthy card at full load draws just under its limit, so that it is never power-capped by luck (how
            # busy the host let it be); a limit lowered by mining (mining_vbios) caps it, as it would a real card.
            demand = idle_w + (FULL_LOAD_POWER_SHARE * self.spec.tdp_w - idle_w) * load * self._clock_factor(throttle)
            power = min(demand, limit)
            fan_target = self._fan_target(self._temp_c)
            fan_actual = 0.0 if self.faults.fan_failed or self.faults.fan_blocked else fan_target
            # Thermal resistance die→air (°C/W): falls as the fan speeds up; dried pads raise it.
            r_th = (0.30 - 0.17 * fan_actual / 100.0) * self.faults.thermal_resistance_factor
            if self.faults.fan_failed or self.faults.fan_blocked:
                r_th *= 1.8  # only passive convection through the fins
            steady = AMBIENT_C + power * r_th
            step = min(remaining, THERMAL_STEP_S)
            self._temp_c = steady + (self._temp_c - steady) * math.exp(-step / THERMAL_TAU_S)
            remaining -= step
            if remaining <= 0:
                break
            throttle = self._throttle_at(self._temp_c, load)
        if demand > limit:
            throttle |= THROTTLE_SW_POWER_CAP
        self._sim_now = now
        self._throttle_seen |= throttle
        # A blocked fan is still driven: the card reports the duty it asks for, and only the tachometer tells.
        fan_reported = fan_target if self.faults.fan_blocked else fan_actual
        return load, power, fan_reported, throttle

    @staticmethod
    def _throttle_at(temp_c: float, load: float) -> int:
        throttle = 0 if load > 0.05 else THROTTLE_GPU_IDLE
        if temp_c >= THERMAL_LIMIT_C:
            throttle |= THROTTLE_SW_THERMAL
        if temp_c >= HW_SLOWDOWN_C:
            throttle |= THROTTLE_HW_SLOWDOWN
        return throttle

    def _clock_factor(self, throttle: int) -> float:
        """Share of the nominal SM clock the card runs at: capped by the fault plan, pulled down by throttling."""
        factor = self.faults.clock_cap_factor
        if throttle & THROTTLE_SW_THERMAL:
            factor *= 0.8 - min(0.3, (self._temp_c - THERMAL_LIMIT_C) * 0.02)
        if throttle & THROTTLE_HW_SLOWDOWN:
            factor *= 0.5
        return factor

    @staticmethod
    def _fan_target(temp_c: float) -> float:
        return max(30.0, min(100.0, 30.0 + (temp_c - 40.0) * 70.0 / 40.0))

    def _power_limit(self) -> float:
        return self.spec.tdp_w * self.faults.power_limit_factor

    def _sm_clock(self, throttle: int) -> float:
        factor = self._clock_factor(throttle) * (0.9 if throttle & THROTTLE_SW_POWER_CAP else 1.0)
        return round(NOMINAL_SM_CLOCK_MHZ * factor)

    # --- failures -------------------------------------------------------------------------------------
    def _operation(self) -> None:
        """Count an operation; past the plan's limit the device has fallen off the bus for good."""
        self._ops += 1
        limit = self.faults.fall_off_bus_after_ops
        if self._lost or (limit is not None and self._ops > limit):
            self._lost = True
            raise DeviceLost(self.label, "GPU has fallen off the bus (Xid 79)")

    # --- GpuDevice ------------------------------------------------------------------------------------
    def identity(self) -> DeviceIdentity:
        with self._lock:
            self._operation()
        spec = self.spec
        pci_device_id, vram = spec.pci_device_ids[0], spec.vram_bytes
        if self.faults.fake_model_slug:
            # A re-flashed fake: it reports the declared name, but its silicon is another chip.
            real = self.faults.fake_model_slug
            if real == spec.slug:
                real = "geforce-gtx-1070"
            real_spec = board_spec(real)
            pci_device_id, vram = real_spec.pci_device_ids[0], real_spec.vram_bytes
        return DeviceIdentity(
            name=spec.full_name, uuid=self.uuid, serial=self.serial, board_part_number=NOT_SUPPORTED,
            vbios_version=self.faults.vbios_version or "94.02.26.08.1C",
            pci_vendor_id=spec.pci_vendor_id, pci_device_id=pci_device_id,
            pci_subsystem_id=f"{(0x1000 + self.index) & 0xFFFF:04x}{SIM_BOARD_VENDORS[self.index % 6]}",
            bus_id=f"00000000:{self.index + 1:02x}:00.0", vram_total_bytes=vram,
            compute_capability=spec.compute_capability or "0.0", driver_version="simulated",
            # As NVML reports it: the most this card can do in this slot, so a riser's x1 shows here too.
            cuda_version="simulated", pcie_max_generation=(self.faults.pcie_link or (spec.pcie_gen,))[0],
            pcie_max_width=(self.faults.pcie_link or (None, spec.pcie_lanes))[1], simulated=True,
        )

    def telemetry(self) -> TelemetrySample:
        with self._lock:
            self._operation()
            load, power, fan, throttle = self._advance()
            gen, width = self.faults.pcie_link or (self.spec.pcie_gen, self.spec.pcie_lanes)
            if load < 0.05 and not self.faults.pcie_link:
                gen = 1  # links drop to gen 1 at idle to save power, as real cards do
            # A healthy die's hottest point runs ~10–15 °C above its average under full load.
            hotspot = self._temp_c + 4.0 + 0.025 * power + self.faults.hotspot_extra_c
            is_gddr6x = self.spec.memory_type == "GDDR6X"
            return TelemetrySample(
                time=self._sim_now,
                gpu_temp_c=round(self._temp_c, 1),
                memory_temp_c=round(self._temp_c + 12.0, 1) if is_gddr6x else NOT_SUPPORTED,
                hotspot_temp_c=round(hotspot, 1),
                fan_speeds_pct=(round(fan), round(fan)),
                fan_targets_pct=(round(self._fan_target(self._temp_c)),) * 2,
                fan_rpm=round(FAN_MAX_RPM * (BLOCKED_FAN_RPM_SHARE if self.faults.fan_blocked else fan / 100.0)),
                power_w=round(power, 1),
                power_limit_w=round(self._power_limit(), 1),
                power_default_limit_w=self.spec.tdp_w,
                sm_clock_mhz=self._sm_clock(throttle) if load > 0.05 else 210,
                memory_clock_mhz=NOMINAL_MEM_CLOCK_MHZ if load > 0.05 else 405,
                utilization_gpu_pct=round(load * 100),
                utilization_memory_pct=round(load * 60),
                performance_state=0 if load > 0.05 else 8,
                throttle_reasons=throttle,
                pcie_generation=gen, pcie_width=width,
                pcie_replay_counter=0,
                # GeForce boards expose neither ECC nor page retirement; workstation Ampere has both.
                ecc_corrected=NOT_SUPPORTED, ecc_uncorrected=NOT_SUPPORTED,
                retired_pages_sbe=NOT_SUPPORTED, retired_pages_dbe=NOT_SUPPORTED,
                retired_pages_pending=NOT_SUPPORTED,
                remapped_rows_correctable=NOT_SUPPORTED, remapped_rows_uncorrectable=NOT_SUPPORTED,
                remapped_rows_pending=NOT_SUPPORTED, remapped_rows_failure=NOT_SUPPORTED,
            )

    @property
    def torch_device(self) -> torch.device:
        return torch.device("cpu")

    def memory_info(self) -> tuple[int, int]:
        with self._lock:
            used = sum(self._allocations.values())
        return self.memory_bytes - used, self.memory_bytes

    def alloc_words(self, count: int) -> DeviceBuffer:
        size = count * 4
        with self._lock:
            self._operation()
            address = first_fit(self._allocations, size)
            if address + size > self.memory_bytes:
                raise MemoryError(f"{self.label}: cannot allocate {size} bytes")
            self._allocations[address] = size
        return DeviceBuffer(tensor=torch.empty(count, dtype=torch.int32), address=address)

    def free(self, buffer: DeviceBuffer) -> None:
        with self._lock:
            self._allocations.pop(buffer.address, None)

    def synchronize(self, buffer: DeviceBuffer | None = None) -> None:
        wall_start = time.monotonic()
        with self._lock:
            self._operation()
            if buffer is not None:
                apply_cell_faults(self.faults, buffer, self._now(), self._weak_state)
            self._mark_busy(wall_start - 0.0, time.monotonic())

    def _jitter(self) -> float:
        return self._timing_jitter.uniform(0.97, 1.03)

    def _gemm_seconds(self, a: torch.Tensor, b: torch.Tensor) -> float:
        """What this product takes on the modelled card: datasheet rate × efficiency × the clock it holds now. A
        skinny product (a side of SKINNY_ROWS or fewer: a decode step's matrix-vector work) is bound by reading its
        operands instead, whichever takes longer (the roofline); a square GEMM at the scaled-down sizes a simulated
        card runs stands for the full-size one, which is bound by its FLOPs."""
        key = _DTYPE_KEYS.get(a.dtype, "fp32")
        peak = getattr(self.spec, f"{key}_tflops", None) or self.spec.fp32_tflops
        if a.dtype == torch.float64:
            peak = self.spec.fp32_tflops / 32  # consumer chips run FP64 at 1/32 or 1/64 of FP32
        throttle = self._advance()[3]
        clock = self._clock_factor(throttle) * (0.9 if throttle & THROTTLE_SW_POWER_CAP else 1.0)
        rows, inner, columns = a.shape[-2] if a.dim() > 1 else 1, a.shape[-1], b.shape[-1]
        products = math.prod(torch.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
        jitter = self._jitter()
        seconds = 2 * products * rows * inner * columns / (
            peak * 1e12 * SIM_EFFICIENCY.get(key, SIM_EFFICIENCY["fp32"]) * clock * jitter)
        if min(rows, columns) <= SKINNY_ROWS:
            moved = (a.numel() * a.element_size() + b.numel() * b.element_size()
                     + products * rows * columns * a.element_size())
            seconds = max(seconds, moved / (self.spec.memory_bandwidth_gbs * 1e9 * SIM_EFFICIENCY["memory"] * jitter))
        return seconds

    def matmul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        wall_start = time.monotonic()
        with self._lock:
            self._operation()
            self._device_clock_s += self._gemm_seconds(a, b)
        result = torch.matmul(a, b)
        if self.faults.clock_cap_factor < 1.0:
            # A clock-capped card does the same work more slowly.
            elapsed = time.monotonic() - wall_start
            time.sleep(elapsed * (1.0 / self.faults.clock_cap_factor - 1.0))
        if self.faults.sdc_fraction > 0 and result.dtype != torch.float64:
            generator = self._sdc_generator
            if self.faults.sdc_repeatable:
                generator = torch.Generator().manual_seed(self.seed)
            with self._lock:
                flip_top_exponent_bits(result, self.faults.sdc_fraction, generator)
        with self._lock:
            self._mark_busy(wall_start, time.monotonic())
        return result

    def copy(self, target: torch.Tensor, source: torch.Tensor) -> None:
        wall_start = time.monotonic()
        with self._lock:
            self._operation()
        target.copy_(source)
        moved = 2 * target.numel() * target.element_size()  # read and write
        with self._lock:
            self._device_clock_s += moved / (self.spec.memory_bandwidth_gbs * 1e9 * SIM_EFFICIENCY["memory"]
                                             * self._jitter())
            self._mark_busy(wall_start, time.monotonic())

    def timed(self, work) -> float:
        before = self._device_clock_s
        work()
        return self._device_clock_s - before

    def host_words(self, count: int) -> torch.Tensor:
        return torch.empty(count, dtype=torch.int32)

    def transfer(self, target: torch.Tensor, source: torch.Tensor) -> float:
        """The bytes really move (host memory to the simulated VRAM's tensor, or back); the time is the link
        model's: what a DMA copy takes over the link this card trained at, with a little seeded jitter."""
        wall_start = time.monotonic()
        with self._lock:
            self._operation()
        target.copy_(source)
        gen, width = self.faults.pcie_link or (self.spec.pcie_gen, self.spec.pcie_lanes)
        with self._lock:
            seconds = DMA_LATENCY_S + target.numel() * target.element_size() / (
                pcie_link_gbs(gen, width) * 1e9 * DMA_EFFICIENCY * self._jitter())
            self._device_clock_s += seconds
            self._mark_busy(wall_start, time.monotonic())
        return seconds

    def reset_power_limit(self) -> bool:
        self.faults.power_limit_factor = 1.0
        return True

    def clock_offsets(self) -> dict:
        with self._lock:
            self._operation()
        return {"core_mhz": self.faults.core_offset_mhz, "memory_mhz": self.faults.memory_offset_mhz}

    def reset_clock_offsets(self) -> bool:
        self.faults.core_offset_mhz = self.faults.memory_offset_mhz = 0
        return True

    @property
    def throttle_reasons_seen(self) -> int:
        return self._throttle_seen


"""What every GPU device offers the checks: identity, telemetry, memory and compute, the same for real and simulated."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported by the implementations, never by web processes
    import torch


class _NotSupported:
    """A value the card does not expose (GeForce cards refuse many NVML queries). Falsy, and JSON-encodes as null."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_SUPPORTED"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):
        return (_NotSupported, ())


NOT_SUPPORTED: Any = _NotSupported()


def supported(value) -> bool:
    return value is not NOT_SUPPORTED and value is not None


class DeviceLost(Exception):
    """The GPU stopped answering (fell off the bus, Xid 79, a CUDA error mid-kernel). Fails this card's run only."""

    def __init__(self, device_label: str, detail: str):
        self.device_label = device_label
        self.detail = detail
        super().__init__(f"{device_label}: device lost ({detail})")


@dataclass(frozen=True)
class DeviceIdentity:
    name: str
    uuid: str
    serial: Any  # board serial; NOT_SUPPORTED on most GeForce cards
    board_part_number: Any
    vbios_version: Any
    pci_vendor_id: str  # lowercase hex, e.g. "10de"
    pci_device_id: str  # lowercase hex, e.g. "2206"
    pci_subsystem_id: str  # lowercase hex, 8 digits: subsystem device + subsystem vendor
    bus_id: str  # e.g. "00000000:01:00.0"
    vram_total_bytes: int
    compute_capability: str  # e.g. "8.6"
    driver_version: Any
    cuda_version: Any
    pcie_max_generation: Any
    pcie_max_width: Any
    simulated: bool = False

    def as_dict(self) -> dict:
        return {k: (None if v is NOT_SUPPORTED else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class TelemetrySample:
    """One reading of the card's sensors and counters. Any field may be NOT_SUPPORTED."""

    time: float  # seconds, monotonic clock of the bench
    gpu_temp_c: Any = NOT_SUPPORTED
    memory_temp_c: Any = NOT_SUPPORTED  # memory junction (GDDR6X cards expose it to few tools)
    hotspot_temp_c: Any = NOT_SUPPORTED
    fan_speeds_pct: Any = NOT_SUPPORTED  # tuple, one per fan
    fan_targets_pct: Any = NOT_SUPPORTED
    fan_rpm: Any = NOT_SUPPORTED  # the first fan's tachometer, where the driver exposes it (NVML 12.5+)
    power_w: Any = NOT_SUPPORTED
    power_limit_w: Any = NOT_SUPPORTED
    power_default_limit_w: Any = NOT_SUPPORTED
    sm_clock_mhz: Any = NOT_SUPPORTED
    memory_clock_mhz: Any = NOT_SUPPORTED
    utilization_gpu_pct: Any = NOT_SUPPORTED
    utilization_memory_pct: Any = NOT_SUPPORTED
    performance_state: Any = NOT_SUPPORTED  # 0 (P0, max) … 15
    throttle_reasons: Any = NOT_SUPPORTED  # NVML clocks-event reasons bitmask
    pcie_generation: Any = NOT_SUPPORTED
    pcie_width: Any = NOT_SUPPORTED
    pcie_replay_counter: Any = NOT_SUPPORTED
    ecc_corrected: Any = NOT_SUPPORTED  # volatile aggregate counts since driver load
    ecc_uncorrected: Any = NOT_SUPPORTED
    retired_pages_sbe: Any = NOT_SUPPORTED  # Pascal–Turing page retirement
    retired_pages_dbe: Any = NOT_SUPPORTED
    retired_pages_pending: Any = NOT_SUPPORTED
    remapped_rows_correctable: Any = NOT_SUPPORTED  # Ampere+ row remapping
    remapped_rows_uncorrectable: Any = NOT_SUPPORTED
    remapped_rows_pending: Any = NOT_SUPPORTED
    remapped_rows_failure: Any = NOT_SUPPORTED

    def as_dict(self) -> dict:
        return {k: (None if v is NOT_SUPPORTED else (list(v) if isinstance(v, tuple) else v))
                for k, v in asdict(self).items()}


# NVML clocks-event (throttle) reason bits, as in nvml.h.
THROTTLE_GPU_IDLE = 0x1
THROTTLE_APP_CLOCKS = 0x2
THROTTLE_SW_POWER_CAP = 0x4
THROTTLE_HW_SLOWDOWN = 0x8
THROTTLE_SYNC_BOOST = 0x10
THROTTLE_SW_THERMAL = 0x20
THROTTLE_HW_THERMAL = 0x40
THROTTLE_HW_POWER_BRAKE = 0x80
THROTTLE_DISPLAY_CLOCKS = 0x100
THROTTLE_NAMES = {
    THROTTLE_GPU_IDLE: "gpu_idle", THROTTLE_APP_CLOCKS: "applications_clocks", THROTTLE_SW_POWER_CAP: "sw_power_cap",
    THROTTLE_HW_SLOWDOWN: "hw_slowdown", THROTTLE_SYNC_BOOST: "sync_boost", THROTTLE_SW_THERMAL: "sw_thermal",
    THROTTLE_HW_THERMAL: "hw_thermal", THROTTLE_HW_POWER_BRAKE: "hw_power_brake",
    THROTTLE_DISPLAY_CLOCKS: "display_clocks",
}
# Throttling that means a fault (the hardware's own emergency brakes), the health check's failure. Not sw_thermal:
# that is the driver holding the card at its temperature target, which the thermal check judges from the readings
# themselves (and the health check reports as a warning).
HARDWARE_THROTTLE = THROTTLE_HW_SLOWDOWN | THROTTLE_HW_THERMAL | THROTTLE_HW_POWER_BRAKE


# Usable PCIe throughput per lane and direction in GB/s, after line encoding (8b/10b up to gen 2, 128b/130b from
# gen 3, FLIT from gen 6), before packet overhead.
PCIE_LANE_GBS = {1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938, 6: 7.563}


def pcie_link_gbs(generation, width) -> float | None:
    """What a link of this generation and width carries per direction (GB/s); None if either is unknown."""
    if not (supported(generation) and supported(width)) or generation not in PCIE_LANE_GBS:
        return None
    return PCIE_LANE_GBS[generation] * width


def first_fit(allocations: dict[int, int], size: int) -> int:
    """The lowest address where `size` bytes fit between the allocations (address -> bytes) of a device-like address
    space: how the simulated card and the fault-planting wrapper give their buffers addresses."""
    address = 0
    for start, length in sorted(allocations.items()):
        if start - address >= size:
            break
        address = max(address, start + length)
    return address


def throttle_names(mask) -> list[str]:
    if not supported(mask):
        return []
    return [name for bit, name in THROTTLE_NAMES.items() if mask & bit]


@dataclass
class DeviceBuffer:
    """Device memory handed to a check: a 1-D tensor of 32-bit words and the device address of its first byte."""

    tensor: torch.Tensor
    address: int
    meta: dict = field(default_factory=dict)

    @property
    def words(self) -> int:
        return self.tensor.numel()


class GpuDevice(abc.ABC):
    """One GPU as the checks see it. Implementations: NvmlDevice (real), SimulatedDevice (CPU, with faults)."""

    label: str  # short name for logs and errors, e.g. "gpu0" or "sim3"

    @abc.abstractmethod
    def identity(self) -> DeviceIdentity: ...

    @abc.abstractmethod
    def telemetry(self) -> TelemetrySample: ...

    @property
    @abc.abstractmethod
    def torch_device(self) -> torch.device: ...

    @abc.abstractmethod
    def memory_info(self) -> tuple[int, int]:
        """(free, total) device memory in bytes."""

    @abc.abstractmethod
    def alloc_words(self, count: int) -> DeviceBuffer:
        """Allocate `count` 32-bit words of device memory (contents undefined). Raises MemoryError if it cannot."""

    @abc.abstractmethod
    def free(self, buffer: DeviceBuffer) -> None: ...

    @abc.abstractmethod
    def synchronize(self, buffer: DeviceBuffer | None = None) -> None:
        """Wait until the device has finished the work queued so far (on `buffer`, if given). Raises DeviceLost."""

    @abc.abstractmethod
    def matmul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """a @ b on the device, as its hardware computes it. Raises DeviceLost."""

    @abc.abstractmethod
    def copy(self, target: torch.Tensor, source: torch.Tensor) -> None:
        """A device-to-device copy (target ← source) through the card's memory system. Raises DeviceLost."""

    @abc.abstractmethod
    def timed(self, work: Callable[[], object]) -> float:
        """Run `work` (operations on this device) and return how long the device was busy with it, on the
        device's own clock (CUDA events on a GPU), so that host-side overhead and other processes do not count."""

    @abc.abstractmethod
    def host_words(self, count: int) -> torch.Tensor:
        """`count` 32-bit words of page-locked (pinned) host memory: what a DMA transfer over PCIe reads or writes."""

    @abc.abstractmethod
    def transfer(self, target: torch.Tensor, source: torch.Tensor) -> float:
        """Copy host memory to device memory or back over the PCIe link; return how long the copy took on the
        device's own clock (seconds), so that host-side scheduling does not count. Raises DeviceLost."""

    def replayable(self, work: Callable[[], object]) -> Callable[[], object]:
        """`work` (a fixed sequence of this device's operations on tensors allocated beforehand) as a callable that
        runs it again with the least host overhead: a captured CUDA graph on a GPU, so that a decode step of small
        kernels is timed as the card runs it rather than as fast as Python launches it. Default: `work` itself."""
        return work

    def reset_power_limit(self) -> bool:
        """Put the power limit back to its default if the bench may; True if it did. Default: not allowed."""
        return False

    def clock_offsets(self) -> dict:
        """The core and memory clock offsets (MHz) set on the card's V/F curve: a miner's overclock or undervolt.
        NOT_SUPPORTED where the card or driver does not say."""
        return {"core_mhz": NOT_SUPPORTED, "memory_mhz": NOT_SUPPORTED}

    def reset_clock_offsets(self) -> bool:
        """Set both offsets back to 0 if the bench may; True if it did. Default: not allowed."""
        return False

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the device holds."""

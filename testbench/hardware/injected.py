"""Faults planted in a working device's real data path: how the checks are proven on real hardware.

FaultInjectingDevice wraps any GpuDevice (on a bench, an NvmlDevice) and corrupts what that device really holds and
computes, as a fault plan says: stuck and weak cells change the words of the very CUDA buffer the VRAM check reads
back, silent data corruption flips bits in the real GEMM output the compute check compares. Everything else
(identity, telemetry, timing, PCIe) is the wrapped card's own. Only the memory and compute faults can be planted
this way; a plan asking for others is refused, since a real card cannot be made to run hot or fall off the bus.

Addresses: a fault plan places cells by byte address in a device's memory. The wrapper gives its buffers addresses
of its own, handed out first-fit from 0 as SimulatedDevice does, so that a plan built for `memory_bytes` of the
card's free memory lands in the buffers the VRAM check takes; the real device address stays in `meta`.
"""

from __future__ import annotations

import threading
import time

from .base import DeviceBuffer, DeviceIdentity, GpuDevice, TelemetrySample, first_fit
from .faults import FaultPlan, apply_cell_faults, flip_top_exponent_bits

INJECTABLE_PROFILES = ("healthy", "vram_stuck_bit", "vram_weak_cells", "vram_transient_reads", "compute_sdc")


class FaultInjectingDevice(GpuDevice):
    def __init__(self, device: GpuDevice, faults: FaultPlan, *, seed: int = 0):
        unsupported = [p for p in faults.profiles if p not in INJECTABLE_PROFILES]
        if unsupported:
            raise ValueError(f"cannot plant {', '.join(unsupported)} in a real device; "
                             f"plantable: {', '.join(INJECTABLE_PROFILES)}")
        import torch

        self.device = device
        self.faults = faults
        self.label = device.label
        self._lock = threading.RLock()
        self._allocations: dict[int, int] = {}  # our address -> bytes
        self._weak_state: dict[int, tuple[int, float]] = {}
        self._started = time.monotonic()
        self._sdc_generator = torch.Generator().manual_seed(seed * 7919 + 17)

    # --- the faults ----------------------------------------------------------------------------------
    def alloc_words(self, count: int) -> DeviceBuffer:
        real = self.device.alloc_words(count)
        size = count * 4
        with self._lock:
            address = first_fit(self._allocations, size)
            self._allocations[address] = size
        return DeviceBuffer(tensor=real.tensor, address=address, meta={"real": real})

    def free(self, buffer: DeviceBuffer) -> None:
        with self._lock:
            self._allocations.pop(buffer.address, None)
        real = buffer.meta.get("real")
        if real is not None:
            self.device.free(real)
            buffer.tensor = real.tensor

    def synchronize(self, buffer: DeviceBuffer | None = None) -> None:
        self.device.synchronize(buffer.meta.get("real") if buffer is not None else None)
        if buffer is not None:
            with self._lock:
                apply_cell_faults(self.faults, buffer, time.monotonic() - self._started, self._weak_state)

    def matmul(self, a, b):
        import torch

        result = self.device.matmul(a, b)
        # FP64 runs on separate units, which the plan keeps good (as the simulated card does).
        if self.faults.sdc_fraction > 0 and result.dtype != torch.float64:
            generator = self._sdc_generator
            if self.faults.sdc_repeatable:
                generator = torch.Generator().manual_seed(0)
            with self._lock:
                flip_top_exponent_bits(result, self.faults.sdc_fraction, generator)
        return result

    def replayable(self, work):
        return work  # a captured graph would replay one set of planted faults: each run must draw its own

    # --- the wrapped card's own ----------------------------------------------------------------------
    def identity(self) -> DeviceIdentity:
        return self.device.identity()

    def telemetry(self) -> TelemetrySample:
        return self.device.telemetry()

    @property
    def torch_device(self):
        return self.device.torch_device

    def memory_info(self) -> tuple[int, int]:
        return self.device.memory_info()

    def copy(self, target, source) -> None:
        self.device.copy(target, source)

    def timed(self, work) -> float:
        return self.device.timed(work)

    def host_words(self, count: int):
        return self.device.host_words(count)

    def transfer(self, target, source) -> float:
        return self.device.transfer(target, source)

    def reset_power_limit(self) -> bool:
        return self.device.reset_power_limit()

    def clock_offsets(self) -> dict:
        return self.device.clock_offsets()

    def reset_clock_offsets(self) -> bool:
        return self.device.reset_clock_offsets()

    def close(self) -> None:
        self.device.close()

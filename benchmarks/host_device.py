"""The host CPU as a device for the benchmarks: the checks' own code, timed on the wall clock.

A simulated card times its work on its model's clock (what a GPU of the model would take), so the share of the
hardware a check uses can only be measured on a device whose clock is the real one: on a GPU, CUDA events; on the
CPU, this.
"""

import time

import torch

from testbench.hardware.base import DeviceBuffer, DeviceIdentity, GpuDevice, TelemetrySample


class HostDevice(GpuDevice):
    """The host CPU as a device timed on the wall clock, with a memory budget so that probing for what can be
    allocated ends (Linux hands out virtual memory without limit)."""

    label = "cpu"

    def __init__(self, budget_bytes: int = 2 * 2**30):
        self.budget = budget_bytes
        self.used: dict[int, int] = {}

    def identity(self) -> DeviceIdentity:
        return DeviceIdentity(name="host CPU", uuid="cpu", serial=None, board_part_number=None, vbios_version=None,
                              pci_vendor_id="0000", pci_device_id="0000", pci_subsystem_id="00000000", bus_id="cpu",
                              vram_total_bytes=self.budget, compute_capability="8.0", driver_version=None,
                              cuda_version=None, pcie_max_generation=None, pcie_max_width=None)

    def telemetry(self) -> TelemetrySample:
        return TelemetrySample(time=time.monotonic())

    @property
    def torch_device(self):
        return torch.device("cpu")

    def memory_info(self):
        return self.budget - sum(self.used.values()), self.budget

    def alloc_words(self, count: int) -> DeviceBuffer:
        if sum(self.used.values()) + count * 4 > self.budget:
            raise MemoryError("over the benchmark's memory budget")
        tensor = torch.empty(count, dtype=torch.int32)
        self.used[tensor.data_ptr()] = count * 4
        return DeviceBuffer(tensor=tensor, address=tensor.data_ptr())

    def free(self, buffer: DeviceBuffer) -> None:
        self.used.pop(buffer.address, None)

    def synchronize(self, buffer=None) -> None:
        pass

    def matmul(self, a, b):
        return torch.matmul(a, b)

    def copy(self, target, source) -> None:
        target.copy_(source)

    def timed(self, work) -> float:
        started = time.perf_counter()
        work()
        return time.perf_counter() - started

    def host_words(self, count: int):
        return torch.empty(count, dtype=torch.int32)

    def transfer(self, target, source) -> float:
        return self.timed(lambda: target.copy_(source))

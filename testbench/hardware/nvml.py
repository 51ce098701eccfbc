"""Real NVIDIA GPUs: identity and telemetry through NVML (nvidia-ml-py), memory and compute through torch CUDA.

Every NVML call goes through `NvmlDevice.query`: a query the card does not support (GeForce cards refuse many)
yields NOT_SUPPORTED, never an exception; a lost GPU becomes DeviceLost, which fails that card's run only. CUDA
devices are matched to NVML devices by UUID, because CUDA_VISIBLE_DEVICES and PCI order need not agree.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from .base import NOT_SUPPORTED, DeviceBuffer, DeviceIdentity, DeviceLost, GpuDevice, TelemetrySample, supported

# cuBLAS is deterministic run to run only with a fixed workspace, read when its handle is made: before any CUDA work.
# The ai check's repeated training runs must agree, and torch's deterministic mode asks for this setting.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

log = logging.getLogger(__name__)


class NvmlCallRefused(RuntimeError):
    """NVML refused a call's arguments (NVML_ERROR_INVALID_ARGUMENT): a fault in our call, not in the card. It is
    raised, not hidden as "not supported", so that the check that made the call errors and says which call."""

_init_lock = threading.Lock()
_init_count = 0


def _nvml_module():
    import pynvml

    return pynvml


nvml_unavailable_reason = ""  # why NVML could not start in this process, if it could not


def nvml_init(nvml) -> bool:
    """Initialise NVML once per process; False where there is no driver or library (a machine without a GPU)."""
    global _init_count
    with _init_lock:
        if _init_count:
            _init_count += 1
            return True
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            # Expected on a machine without a GPU; what asked for GPUs says so, with this reason.
            global nvml_unavailable_reason
            nvml_unavailable_reason = str(exc)
            log.debug("NVML not available: %s", exc)
            return False
        _init_count = 1
        return True


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class NvmlDevice(GpuDevice):
    def __init__(self, *, index: int, cuda_index: int | None, nvml=None):
        self.nvml = nvml or _nvml_module()
        self.index = index
        self.cuda_index = cuda_index
        self.label = f"gpu{index}"
        self.handle = self.nvml.nvmlDeviceGetHandleByIndex(index)
        # NVML answers that mean "this card does not tell": a value, not an error. INVALID_ARGUMENT is not one of
        # them: it says our call was wrong (NvmlCallRefused), except where a call says otherwise (query()).
        self._unsupported = {self.nvml.NVML_ERROR_NOT_SUPPORTED, self.nvml.NVML_ERROR_FUNCTION_NOT_FOUND,
                             self.nvml.NVML_ERROR_NO_PERMISSION, self.nvml.NVML_ERROR_NO_DATA}

    # --- the one query helper -------------------------------------------------------------------------
    def query(self, function: Callable, *args, transform: Callable[[Any], Any] | None = None,
              refused_means_unsupported: bool = False) -> Any:
        """`function(handle, *args)`, or NOT_SUPPORTED where the card does not tell. `refused_means_unsupported`:
        an INVALID_ARGUMENT answer means "not supported" too (for optional reads that must never fail a card);
        elsewhere it raises NvmlCallRefused, since it means our call was wrong and must be seen."""
        try:
            value = function(self.handle, *args)
        except self.nvml.NVMLError as exc:
            if exc.value in self._unsupported:
                return NOT_SUPPORTED
            if exc.value == self.nvml.NVML_ERROR_INVALID_ARGUMENT:
                if refused_means_unsupported:
                    return NOT_SUPPORTED
                raise NvmlCallRefused(f"{self.label}: NVML refused the arguments of "
                                      f"{getattr(function, '__name__', function)}{args!r}") from exc
            # Lost, or unusable for this run (INSUFFICIENT_POWER: a power cable missing; TIMEOUT; …): either
            # way a domain error that fails this card and leaves the others running.
            raise DeviceLost(self.label, f"NVML: {exc}") from exc
        return transform(value) if transform else value

    def _system(self, function: Callable, transform=None) -> Any:
        try:
            value = function()
        except self.nvml.NVMLError:
            return NOT_SUPPORTED
        return transform(value) if transform else value

    # --- identity and telemetry -----------------------------------------------------------------------
    def identity(self) -> DeviceIdentity:
        n = self.nvml
        pci = self.query(n.nvmlDeviceGetPciInfo)
        if not supported(pci):
            raise DeviceLost(self.label, "PCI information unavailable")
        device_word = pci.pciDeviceId  # 0xDDDDVVVV: device id in the high half, vendor in the low
        memory = self.query(n.nvmlDeviceGetMemoryInfo)
        capability = self.query(n.nvmlDeviceGetCudaComputeCapability)
        return DeviceIdentity(
            name=self.query(n.nvmlDeviceGetName, transform=_text),
            uuid=self.query(n.nvmlDeviceGetUUID, transform=_text),
            serial=self.query(n.nvmlDeviceGetSerial, transform=_text),
            board_part_number=self.query(n.nvmlDeviceGetBoardPartNumber, transform=_text),
            vbios_version=self.query(n.nvmlDeviceGetVbiosVersion, transform=_text),
            pci_vendor_id=f"{device_word & 0xFFFF:04x}",
            pci_device_id=f"{(device_word >> 16) & 0xFFFF:04x}",
            pci_subsystem_id=f"{pci.pciSubSystemId & 0xFFFFFFFF:08x}",
            bus_id=_text(pci.busId),
            vram_total_bytes=int(memory.total) if supported(memory) else 0,
            compute_capability=f"{capability[0]}.{capability[1]}" if supported(capability) else "",
            driver_version=self._system(n.nvmlSystemGetDriverVersion, _text),
            cuda_version=self._system(n.nvmlSystemGetCudaDriverVersion_v2,
                                      lambda v: f"{v // 1000}.{v % 1000 // 10}"),
            pcie_max_generation=self.query(n.nvmlDeviceGetMaxPcieLinkGeneration),
            pcie_max_width=self.query(n.nvmlDeviceGetMaxPcieLinkWidth),
        )

    def telemetry(self) -> TelemetrySample:
        import time

        n = self.nvml
        q = self.query
        fans = q(n.nvmlDeviceGetNumFans)
        fan_speeds = tuple(q(n.nvmlDeviceGetFanSpeed_v2, i) for i in range(fans)) if supported(fans) else \
            NOT_SUPPORTED
        fan_targets = tuple(q(n.nvmlDeviceGetTargetFanSpeed, i) for i in range(fans)) if supported(fans) else \
            NOT_SUPPORTED
        utilization = q(n.nvmlDeviceGetUtilizationRates)
        remapped = q(n.nvmlDeviceGetRemappedRows)  # (correctable, uncorrectable, pending, failure)
        throttle = q(n.nvmlDeviceGetCurrentClocksEventReasons)
        if not supported(throttle):  # drivers before R535 only know the older name
            throttle = q(n.nvmlDeviceGetCurrentClocksThrottleReasons)
        milliwatts = lambda v: round(v / 1000.0, 1)  # noqa: E731
        return TelemetrySample(
            time=time.monotonic(),
            gpu_temp_c=q(n.nvmlDeviceGetTemperature, n.NVML_TEMPERATURE_GPU),
            memory_temp_c=self._field(n.NVML_FI_DEV_MEMORY_TEMP),
            hotspot_temp_c=NOT_SUPPORTED,  # NVML does not publish the hotspot sensor
            fan_speeds_pct=fan_speeds, fan_targets_pct=fan_targets,
            # pynvml reads the first fan's tachometer; drivers and boards without one answer "not supported".
            fan_rpm=q(n.nvmlDeviceGetFanSpeedRPM) if hasattr(n, "nvmlDeviceGetFanSpeedRPM") else NOT_SUPPORTED,
            power_w=q(n.nvmlDeviceGetPowerUsage, transform=milliwatts),
            power_limit_w=q(n.nvmlDeviceGetEnforcedPowerLimit, transform=milliwatts),
            power_default_limit_w=q(n.nvmlDeviceGetPowerManagementDefaultLimit, transform=milliwatts),
            sm_clock_mhz=q(n.nvmlDeviceGetClockInfo, n.NVML_CLOCK_SM),
            memory_clock_mhz=q(n.nvmlDeviceGetClockInfo, n.NVML_CLOCK_MEM),
            utilization_gpu_pct=utilization.gpu if supported(utilization) else NOT_SUPPORTED,
            utilization_memory_pct=utilization.memory if supported(utilization) else NOT_SUPPORTED,
            performance_state=q(n.nvmlDeviceGetPerformanceState),
            throttle_reasons=throttle,
            pcie_generation=q(n.nvmlDeviceGetCurrPcieLinkGeneration),
            pcie_width=q(n.nvmlDeviceGetCurrPcieLinkWidth),
            pcie_replay_counter=q(n.nvmlDeviceGetPcieReplayCounter),
            ecc_corrected=q(n.nvmlDeviceGetTotalEccErrors, n.NVML_MEMORY_ERROR_TYPE_CORRECTED, n.NVML_VOLATILE_ECC),
            ecc_uncorrected=q(n.nvmlDeviceGetTotalEccErrors, n.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
                              n.NVML_VOLATILE_ECC),
            retired_pages_sbe=q(n.nvmlDeviceGetRetiredPages,
                                n.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS, transform=len),
            retired_pages_dbe=q(n.nvmlDeviceGetRetiredPages, n.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR,
                                transform=len),
            retired_pages_pending=q(n.nvmlDeviceGetRetiredPagesPendingStatus, transform=bool),
            remapped_rows_correctable=remapped[0] if supported(remapped) else NOT_SUPPORTED,
            remapped_rows_uncorrectable=remapped[1] if supported(remapped) else NOT_SUPPORTED,
            remapped_rows_pending=bool(remapped[2]) if supported(remapped) else NOT_SUPPORTED,
            remapped_rows_failure=bool(remapped[3]) if supported(remapped) else NOT_SUPPORTED,
        )

    def _field(self, field_id: int) -> Any:
        values = self.query(self.nvml.nvmlDeviceGetFieldValues, [field_id])
        if not supported(values) or values[0].nvmlReturn != 0:
            return NOT_SUPPORTED
        return values[0].value.uiVal

    def reset_power_limit(self) -> bool:
        default = self.query(self.nvml.nvmlDeviceGetPowerManagementDefaultLimit)
        if not supported(default):
            return False
        return self.query(self.nvml.nvmlDeviceSetPowerManagementLimit, default) is not NOT_SUPPORTED

    def clock_offsets(self) -> dict:
        # Deprecated in favour of nvmlDeviceGetClockOffsets, whose nvidia-ml-py binding drops the return code.
        # Optional reads (the identity check reports offsets it cannot read as not supported): a refusal here must
        # not fail a card, whatever a driver means by it.
        return {"core_mhz": self.query(self.nvml.nvmlDeviceGetGpcClkVfOffset, refused_means_unsupported=True),
                "memory_mhz": self.query(self.nvml.nvmlDeviceGetMemClkVfOffset, refused_means_unsupported=True)}

    def reset_clock_offsets(self) -> bool:
        # Needs root on Linux; without it NVML answers NO_PERMISSION, which query() turns into NOT_SUPPORTED.
        core = self.query(self.nvml.nvmlDeviceSetGpcClkVfOffset, 0, refused_means_unsupported=True)
        memory = self.query(self.nvml.nvmlDeviceSetMemClkVfOffset, 0, refused_means_unsupported=True)
        return core is not NOT_SUPPORTED and memory is not NOT_SUPPORTED

    # --- memory and compute (torch CUDA) --------------------------------------------------------------
    @property
    def torch_device(self):
        import torch

        if self.cuda_index is None:
            raise DeviceLost(self.label, "not visible to CUDA (CUDA_VISIBLE_DEVICES?)")
        return torch.device("cuda", self.cuda_index)

    def _cuda(self, action: Callable[[], Any]) -> Any:
        """Run a CUDA action; an error from the device (launch failure, ECC, Xid) is a lost device."""
        import torch

        try:
            return action()
        except torch.cuda.OutOfMemoryError as exc:
            raise MemoryError(str(exc)) from exc
        except RuntimeError as exc:
            if "CUDA" in str(exc) or "cuda" in str(exc):
                raise DeviceLost(self.label, str(exc).splitlines()[0]) from exc
            raise

    def memory_info(self) -> tuple[int, int]:
        import torch

        return self._cuda(lambda: torch.cuda.mem_get_info(self.torch_device))

    def alloc_words(self, count: int) -> DeviceBuffer:
        import torch

        tensor = self._cuda(lambda: torch.empty(count, dtype=torch.int32, device=self.torch_device))
        return DeviceBuffer(tensor=tensor, address=tensor.data_ptr())

    def free(self, buffer: DeviceBuffer) -> None:
        import torch

        buffer.tensor = torch.empty(0, dtype=torch.int32)
        torch.cuda.empty_cache()

    def synchronize(self, buffer: DeviceBuffer | None = None) -> None:
        import torch

        self._cuda(lambda: torch.cuda.synchronize(self.torch_device))

    def matmul(self, a, b):
        import torch

        return self._cuda(lambda: torch.matmul(a, b))

    def copy(self, target, source) -> None:
        self._cuda(lambda: target.copy_(source))

    def replayable(self, work: Callable[[], object]) -> Callable[[], object]:
        import torch

        def capture():
            with torch.cuda.device(self.cuda_index):
                stream = torch.cuda.Stream()
                stream.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(stream):  # warm up off the default stream, as graph capture requires
                    for _ in range(3):
                        work()
                torch.cuda.current_stream().wait_stream(stream)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    work()
                return graph.replay

        try:
            return self._cuda(capture)
        except (RuntimeError, DeviceLost) as exc:
            # An operation that cannot be captured: run it as it is (slower to launch, still correct).
            log.warning("%s: no CUDA graph for a replayed step (%s); running it eagerly", self.label, exc)
            return work

    def timed(self, work: Callable[[], object]) -> float:
        import torch

        def run() -> float:
            with torch.cuda.device(self.cuda_index):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                work()
                end.record()
                end.synchronize()
                return start.elapsed_time(end) / 1000.0

        return self._cuda(run)

    def host_words(self, count: int):
        import torch

        return self._cuda(lambda: torch.empty(count, dtype=torch.int32, pin_memory=True))

    def transfer(self, target, source) -> float:

        return self.timed(lambda: target.copy_(source, non_blocking=True))


def cuda_indexes_by_uuid() -> dict[str, int]:
    """NVML-style UUID ('GPU-…') → CUDA device index, for the devices this process can see."""
    import torch

    if not torch.cuda.is_available():
        return {}
    return {f"GPU-{torch.cuda.get_device_properties(i).uuid}": i for i in range(torch.cuda.device_count())}


def discover_nvml_devices(nvml=None, cuda_map: dict[str, int] | None = None) -> list[NvmlDevice]:
    """Every NVIDIA GPU NVML sees, matched to its CUDA index; [] where there is no driver."""
    nvml = nvml or _nvml_module()
    if not nvml_init(nvml):
        return []
    cuda_map = cuda_indexes_by_uuid() if cuda_map is None else cuda_map
    devices = []
    for index in range(nvml.nvmlDeviceGetCount()):
        try:
            uuid = _text(nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetHandleByIndex(index)))
        except nvml.NVMLError as exc:  # one broken card must not hide the others
            log.warning("GPU %d does not answer NVML (%s); skipped", index, exc)
            continue
        devices.append(NvmlDevice(index=index, cuda_index=cuda_map.get(uuid), nvml=nvml))
    return devices

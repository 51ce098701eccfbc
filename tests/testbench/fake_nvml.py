"""A stateful stand-in for the NVML library (after go-nvml's mock): the functions refurb calls, answering for
preset boards with the real pynvml error classes and codes. A GeForce preset refuses what GeForce cards refuse;
`lose()` makes a board answer GPU_IS_LOST from then on."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pynvml

NS = pynvml.NVML_ERROR_NOT_SUPPORTED


@dataclass
class FakeBoard:
    name: str
    uuid: str
    pci_device_word: int  # 0xDDDDVVVV
    subsystem: int
    bus_id: str
    memory_total: int
    capability: tuple[int, int]
    serial: str | None = None  # None: not supported (GeForce)
    part_number: str | None = None
    vbios: str = "94.02.42.00.A9"
    ecc: bool = False
    remapping: bool = False
    fans: int = 2
    fan_rpm: int | None = 1480  # the first fan's tachometer; None: the driver does not expose it
    lost: bool = False
    old_driver: bool = False  # before R535: no "clocks event reasons" call
    power_fault: bool = False  # a missing PCIe power cable
    offsets: tuple[int, int] | None = (0, 0)  # core, memory MHz; None: a driver before R470 (no such call)
    unsupported: set[str] = field(default_factory=set)

    def lose(self) -> None:
        self.lost = True


RTX_3080 = dict(name="NVIDIA GeForce RTX 3080", pci_device_word=0x220610DE, subsystem=0x38901462,
                memory_total=10 * 2**30, capability=(8, 6))
RTX_A4000 = dict(name="NVIDIA RTX A4000", pci_device_word=0x24B010DE, subsystem=0x14AD10DE,
                 memory_total=16 * 2**30, capability=(8, 6), serial="1322120006543", part_number="900-5G190-2200-000",
                 ecc=True, remapping=True, fans=1)


class FakeNvml:
    """Module-like object: constants and the error class come from the real pynvml."""

    def __init__(self, boards: list[FakeBoard], driver_loaded: bool = True):
        self.boards = boards
        self.driver_loaded = driver_loaded
        self.calls: list[str] = []

    def __getattr__(self, name):
        return getattr(pynvml, name)  # NVML_* constants and NVMLError

    def _board(self, handle, call: str) -> FakeBoard:
        self.calls.append(call)
        if handle.lost:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        if call in handle.unsupported:
            raise pynvml.NVMLError(NS)
        return handle

    def nvmlInit(self):
        if not self.driver_loaded:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)

    def nvmlDeviceGetCount(self):
        return len(self.boards)

    def nvmlDeviceGetHandleByIndex(self, index):
        return self.boards[index]

    def nvmlSystemGetDriverVersion(self):
        return "560.35.03"

    def nvmlSystemGetCudaDriverVersion_v2(self):
        return 12060

    def nvmlDeviceGetName(self, h):
        return self._board(h, "name").name

    def nvmlDeviceGetUUID(self, h):
        return self._board(h, "uuid").uuid

    def nvmlDeviceGetSerial(self, h):
        board = self._board(h, "serial")
        if board.serial is None:
            raise pynvml.NVMLError(NS)
        return board.serial

    def nvmlDeviceGetBoardPartNumber(self, h):
        board = self._board(h, "part_number")
        if board.part_number is None:
            raise pynvml.NVMLError(NS)
        return board.part_number

    def nvmlDeviceGetVbiosVersion(self, h):
        return self._board(h, "vbios").vbios

    def nvmlDeviceGetPciInfo(self, h):
        b = self._board(h, "pci")
        return SimpleNamespace(pciDeviceId=b.pci_device_word, pciSubSystemId=b.subsystem, busId=b.bus_id.encode())

    def nvmlDeviceGetMemoryInfo(self, h):
        b = self._board(h, "memory")
        return SimpleNamespace(total=b.memory_total, free=b.memory_total - 300 * 2**20, used=300 * 2**20)

    def nvmlDeviceGetCudaComputeCapability(self, h):
        return self._board(h, "capability").capability

    def nvmlDeviceGetMaxPcieLinkGeneration(self, h):
        self._board(h, "pcie")
        return 4

    def nvmlDeviceGetMaxPcieLinkWidth(self, h):
        self._board(h, "pcie")
        return 16

    def nvmlDeviceGetCurrPcieLinkGeneration(self, h):
        self._board(h, "pcie")
        return 4

    def nvmlDeviceGetCurrPcieLinkWidth(self, h):
        self._board(h, "pcie")
        return 16

    def nvmlDeviceGetPcieReplayCounter(self, h):
        self._board(h, "replay")
        return 3

    def nvmlDeviceGetNumFans(self, h):
        return self._board(h, "fans").fans

    def nvmlDeviceGetFanSpeed_v2(self, h, fan):
        self._board(h, "fans")
        return 45

    def nvmlDeviceGetFanSpeedRPM(self, h):
        if self._board(h, "fans").fan_rpm is None:
            raise pynvml.NVMLError(NS)
        return h.fan_rpm

    def nvmlDeviceGetTargetFanSpeed(self, h, fan):
        self._board(h, "fans")
        return 45

    def nvmlDeviceGetTemperature(self, h, sensor):
        if self._board(h, "temperature").power_fault:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INSUFFICIENT_POWER)
        return 61

    def nvmlDeviceGetFieldValues(self, h, fields):
        self._board(h, "fields")
        # GeForce: the memory-junction field answers "not supported" inside the value list.
        return [SimpleNamespace(nvmlReturn=NS, value=SimpleNamespace(uiVal=0)) for _ in fields]

    def nvmlDeviceGetPowerUsage(self, h):
        self._board(h, "power")
        return 287_450

    def nvmlDeviceGetEnforcedPowerLimit(self, h):
        self._board(h, "power")
        return 320_000

    def nvmlDeviceGetPowerManagementDefaultLimit(self, h):
        self._board(h, "power")
        return 320_000

    def nvmlDeviceSetPowerManagementLimit(self, h, limit):
        self._board(h, "set_power")
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NO_PERMISSION)

    def nvmlDeviceGetGpcClkVfOffset(self, h):
        if self._board(h, "offsets").offsets is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        return h.offsets[0]

    def nvmlDeviceGetMemClkVfOffset(self, h):
        if self._board(h, "offsets").offsets is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        return h.offsets[1]

    def nvmlDeviceSetGpcClkVfOffset(self, h, offset):
        self._board(h, "set_offsets")
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NO_PERMISSION)  # not root

    def nvmlDeviceSetMemClkVfOffset(self, h, offset):
        self._board(h, "set_offsets")
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NO_PERMISSION)

    def nvmlDeviceGetClockInfo(self, h, clock):
        self._board(h, "clocks")
        return 1905 if clock == pynvml.NVML_CLOCK_SM else 9501

    def nvmlDeviceGetUtilizationRates(self, h):
        self._board(h, "utilization")
        return SimpleNamespace(gpu=99, memory=71)

    def nvmlDeviceGetPerformanceState(self, h):
        self._board(h, "pstate")
        return 0

    def nvmlDeviceGetCurrentClocksEventReasons(self, h):
        self._board(h, "reasons")
        if h.old_driver:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        return 0x4  # sw power cap

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, h):
        self._board(h, "reasons")
        return 0x4 | 0x20  # sw power cap, sw thermal

    def nvmlDeviceGetTotalEccErrors(self, h, kind, counter):
        if not self._board(h, "ecc").ecc:
            raise pynvml.NVMLError(NS)
        return 0 if kind == pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED else 2

    def nvmlDeviceGetRetiredPages(self, h, cause):
        self._board(h, "retired")
        raise pynvml.NVMLError(NS)  # Ampere remaps rows instead of retiring pages

    def nvmlDeviceGetRetiredPagesPendingStatus(self, h):
        self._board(h, "retired")
        raise pynvml.NVMLError(NS)

    def nvmlDeviceGetRemappedRows(self, h):
        if not self._board(h, "remapped").remapping:
            raise pynvml.NVMLError(NS)
        return (1, 0, 0, 0)


def board(preset: dict, index: int = 0, **overrides) -> FakeBoard:
    return FakeBoard(uuid=f"GPU-00000000-0000-0000-0000-00000000000{index}", bus_id=f"00000000:0{index + 1}:00.0",
                     **{**preset, **overrides})

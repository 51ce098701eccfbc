"""Finding the cards on this bench, and opening one in another process.

A device holds locks, an NVML handle or a CUDA context, none of which crosses a process boundary; a `DeviceSpec` is
the picklable recipe each card's worker process opens its device from.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import DeviceLost, GpuDevice

SIMULATED_MEMORY_BYTES = 64 * 2**20
# Mining-era cards a simulated batch cycles through when no model is given.
SIMULATED_MODELS = ("geforce-rtx-3080", "geforce-rtx-3070", "geforce-rtx-3060-ti", "geforce-rtx-3090")


@dataclass(frozen=True)
class DeviceSpec:
    kind: str  # "nvml" or "simulated"
    index: int  # NVML index, or position in the simulated batch
    slug: str = ""  # simulated: the catalog model it is built as
    seed: int = 0
    profiles: tuple[str, ...] = ()  # simulated: the fault profiles injected
    memory_bytes: int = SIMULATED_MEMORY_BYTES
    time_scale: float = 1.0
    # Simulated: the board serial the card reports (None: one made up from slug, index and seed; "": none, as a
    # card whose serial NVML does not give) and its NVML UUID ("" = made up). A simulated stand-in for a unit of a
    # lot reports that unit's own, as the real card would.
    serial: str | None = None
    uuid: str = ""

    @property
    def label(self) -> str:
        return f"{'sim' if self.kind == 'simulated' else 'gpu'}{self.index}"

    def read_identity(self) -> dict:
        """Open the device just long enough to read what it says it is."""
        device = self.open()
        try:
            return device.identity().as_dict()
        finally:
            device.close()

    def open(self) -> GpuDevice:
        if self.kind == "simulated":
            from .faults import build_fault_plan
            from .simulated import SimulatedDevice

            return SimulatedDevice(slug=self.slug, index=self.index, seed=self.seed, time_scale=self.time_scale,
                                   memory_bytes=self.memory_bytes, serial=self.serial,
                                   uuid=self.uuid or None,
                                   faults=build_fault_plan(self.profiles, seed=self.seed,
                                                           memory_bytes=self.memory_bytes))
        from .nvml import discover_nvml_devices

        for device in discover_nvml_devices():
            if device.index == self.index:
                return device
        raise DeviceLost(self.label, "NVML no longer lists this GPU")


def nvml_specs() -> list[DeviceSpec]:
    """One spec per NVIDIA GPU that NVML sees and CUDA can drive; [] on a machine without a driver."""
    from .nvml import discover_nvml_devices

    return [DeviceSpec("nvml", device.index) for device in discover_nvml_devices() if device.cuda_index is not None]


def simulated_specs(count: int, *, faults: list[tuple[str, ...]] | None = None, models: list[str] | None = None,
                    seed: int = 0, time_scale: float = 1.0,
                    memory_bytes: int = SIMULATED_MEMORY_BYTES) -> list[DeviceSpec]:
    """A batch of `count` simulated cards: models and fault sets are dealt out in turn (card i gets fault set
    i mod len(faults)), each card seeded differently so that its faults sit elsewhere."""
    faults = faults or [("healthy",)]
    models = models or list(SIMULATED_MODELS)
    return [DeviceSpec("simulated", index, slug=models[index % len(models)], seed=seed * 1000 + index,
                       profiles=tuple(faults[index % len(faults)]), memory_bytes=memory_bytes,
                       time_scale=time_scale)
            for index in range(count)]

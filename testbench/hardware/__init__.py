"""The device layer: one interface (base.GpuDevice) with an NVML + CUDA implementation and a simulated one.

Checks drive a GpuDevice without knowing which it is. torch and pynvml are imported by the implementations only,
so importing this package from a web process loads neither.
"""

from .base import NOT_SUPPORTED, DeviceBuffer, DeviceIdentity, DeviceLost, GpuDevice, TelemetrySample

__all__ = ["NOT_SUPPORTED", "DeviceBuffer", "DeviceIdentity", "DeviceLost", "GpuDevice", "TelemetrySample"]

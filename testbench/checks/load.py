"""A steady GEMM load, shared by the checks that need the card busy (health, thermal soak, PCIe under load)."""

from __future__ import annotations

import torch

from ..hardware.base import GpuDevice


class GemmLoad:
    """Back-to-back GEMMs on the device; `burst()` runs one and waits for it."""

    def __init__(self, device: GpuDevice, size: int, seed: int = 0):
        generator = torch.Generator(device=device.torch_device).manual_seed(seed)
        dtype = torch.float32
        self.device = device
        self.a = torch.rand(size, size, generator=generator, device=device.torch_device, dtype=dtype)
        self.b = torch.rand(size, size, generator=generator, device=device.torch_device, dtype=dtype)
        self.flops = 2 * size**3

    def burst(self) -> None:
        self.device.matmul(self.a, self.b)
        self.device.synchronize()

"""How much of the hardware the checks use, measured in one run on the same device:

- VRAM test throughput ÷ plain torch copy bandwidth (target ≥ 0.5);
- compute-stress FP32 TFLOP/s ÷ plain torch.matmul TFLOP/s (target ≥ 0.9);
- the peak memory the VRAM test adds beyond the buffer it tests.

    .venv/bin/python benchmarks/checks_bench.py            # a CUDA GPU if there is one, else the host CPU
    .venv/bin/python benchmarks/checks_bench.py --cpu      # force the host CPU (timed on the wall clock: a
                                                           # simulated card's clock would time its own model)
"""

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.host_device import HostDevice  # noqa: E402
from testbench.checks.base import CheckContext, run_check  # noqa: E402
from testbench.checks.compute import compute_check  # noqa: E402
from testbench.checks.vram import vram_check  # noqa: E402

VRAM_TARGET = 0.5
COMPUTE_TARGET = 0.9


def wall_rate(work, amount: float, repeats: int, device) -> float:
    """The best of `repeats` wall-clock runs of `work` (amount ÷ seconds), each repeated to last ≥ 10 ms. The
    checks themselves are timed on the wall clock here too, so the ratios compare like with like."""
    started = time.perf_counter()
    work()
    device.synchronize()
    inner = max(1, int(0.01 / max(time.perf_counter() - started, 1e-6)))
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(inner):
            work()
        device.synchronize()
        best = max(best, amount * inner / (time.perf_counter() - started))
    return best


def pick_device(simulate: bool):
    if not simulate:
        from testbench.hardware.nvml import discover_nvml_devices

        devices = [d for d in discover_nvml_devices() if d.cuda_index is not None]
        if devices:
            return devices[0], {"vram_mib": None, "gemm": 8192, "iterations": 20}
    torch.set_num_threads(1)  # as a simulated bench runs each card
    return HostDevice(budget_bytes=256 * 2**20), {"vram_mib": 256, "gemm": 768, "iterations": 10}


def peak_bytes(device) -> int:
    if device.torch_device.type == "cuda":
        return torch.cuda.max_memory_allocated(device.torch_device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpu", "--simulate", dest="cpu", action="store_true", help="the host CPU, not a GPU")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--slice-mib", type=int, default=None,
                        help="the VRAM test's slice size (default: the check's own choice for this card)")
    args = parser.parse_args()
    device, sizes = pick_device(args.cpu)
    identity = device.identity()

    # Plain copy bandwidth (read + write) over the same chunk size the VRAM test uses.
    chunk_mib = 64 if device.torch_device.type == "cpu" else 256
    words = chunk_mib * 2**20 // 4
    source, target = device.alloc_words(words), device.alloc_words(words)
    source.tensor.fill_(7)
    copy_gbs = wall_rate(lambda: target.tensor.copy_(source.tensor), 2 * words * 4 / 1e9, 5, device)
    device.free(source)
    device.free(target)


    # The VRAM test, its patterns over ≥95% of free memory; the retention idle is excluded from throughput.
    patterns = ("walking_ones", "own_address", "moving_inversions", "random_blocks", "modulo_20")
    if device.torch_device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device.torch_device)
    before = peak_bytes(device)
    vram = run_check("vram", vram_check, CheckContext(device), chunk_mib=chunk_mib, slice_mib=args.slice_mib,
                     patterns=patterns, modulo_offsets=4)
    added = peak_bytes(device) - before - (vram.metrics["tested_bytes"]
                                           if device.torch_device.type == "cpu" else 0)
    if device.torch_device.type == "cuda":
        added = torch.cuda.max_memory_allocated(device.torch_device) - vram.metrics["tested_bytes"]
    vram_ratio = vram.metrics["throughput_gbs"] / copy_gbs

    # Plain matmul vs the compute stress, FP32, same size.
    n = sizes["gemm"]
    generator = torch.Generator(device=device.torch_device).manual_seed(0)
    a = torch.rand(n, n, generator=generator, device=device.torch_device)
    b = torch.rand(n, n, generator=generator, device=device.torch_device)
    plain_tflops = wall_rate(lambda: torch.matmul(a, b), 2 * n**3 / 1e12, 5, device)
    stress = run_check("compute", compute_check, CheckContext(device), size=n, iterations=sizes["iterations"],
                       dtypes=("fp32",), cycle_s=0.5)
    compute_ratio = stress.metrics["fp32_tflops"] / plain_tflops

    report = {
        "device": identity.name + (" (simulated on CPU)" if identity.simulated else ""),
        "torch": torch.__version__,
        "copy_bandwidth_gbs": round(copy_gbs, 2),
        "vram_test_throughput_gbs": vram.metrics["throughput_gbs"],
        "vram_ratio": round(vram_ratio, 3), "vram_target": VRAM_TARGET,
        "vram_tested_mib": round(vram.metrics["tested_bytes"] / 2**20, 1),
        "vram_coverage_of_free": vram.metrics["coverage_of_free"],
        "vram_added_peak_mib": round(added / 2**20, 1), "vram_slice_mib": vram.metrics["slice_mib"],
        "plain_matmul_tflops": round(plain_tflops, 4), "compute_stress_tflops": stress.metrics["fp32_tflops"],
        "compute_ratio": round(compute_ratio, 3), "compute_target": COMPUTE_TARGET,
        "vram_status": str(vram.status), "compute_status": str(stress.status),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"device: {report['device']}  (torch {report['torch']})")
    print(f"VRAM test {report['vram_test_throughput_gbs']:.2f} GB/s ÷ copy {report['copy_bandwidth_gbs']:.2f} GB/s "
          f"= {vram_ratio:.2f}  (target ≥ {VRAM_TARGET}; {report['vram_tested_mib']} MiB tested, "
          f"{report['vram_coverage_of_free']:.0%} of free)")
    print(f"compute stress {report['compute_stress_tflops']:.4f} ÷ matmul {report['plain_matmul_tflops']:.4f} TFLOP/s "
          f"= {compute_ratio:.2f}  (target ≥ {COMPUTE_TARGET})")
    print(f"memory the VRAM test adds beyond its buffer: {report['vram_added_peak_mib']} MiB (peak)")


if __name__ == "__main__":
    main()

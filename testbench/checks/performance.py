"""Performance: what the card really delivers — device memory bandwidth (a large device-to-device copy) and GEMM
TFLOP/s per dtype — as ratios to the reference for its model and, once enough cards of the model have been tested,
to the fleet's median (a baseline the datasheet figures are not).

Datasheet figures are peaks no program reaches; `EFFICIENCY` is the share a healthy card reaches with plain torch,
so that "expected" means what a good card of this model shows. With a fleet median, the verdict uses it instead.
Work is timed on the device's own clock (CUDA events), so that host-side overhead does not count.
"""

from __future__ import annotations

import torch

from ..reference import ModelReference
from .base import CheckCannotStart, CheckContext, CheckResult
from .compute import DTYPES, supported_dtypes
from .findings import Findings
from .limits import PERFORMANCE_PASS_RATIO, PERFORMANCE_WARN_RATIO, source

# Share of the datasheet peak a healthy card reaches with a plain torch copy / matmul (an assumption to be
# replaced by fleet medians as cards are tested; see docs/testbench.md).
EFFICIENCY = {"memory_bandwidth_gbs": 0.85, "fp32_tflops": 0.80, "fp16_tflops": 0.70, "bf16_tflops": 0.70}
FLEET_MIN_CARDS = 5


MIN_TIMED_S = 0.01  # each timed run repeats the work until it lasts this long on the device, above timer noise


def best_rate(work, amount: float, repeats: int, device, min_timed_s: float) -> float:
    """The best of `repeats` timed runs of `work` (amount per call ÷ device seconds): peak sustained, not noise."""
    first = device.timed(work)
    inner = max(1, int(min_timed_s / max(first, 1e-9)))
    best = 0.0
    for _ in range(repeats):
        elapsed = device.timed(lambda: [work() for _ in range(inner)])
        if elapsed > 0:
            best = max(best, amount * inner / elapsed)
    return best


def copy_bandwidth_gbs(device, copy_mib: int, repeats: int, min_timed_s: float = MIN_TIMED_S) -> float:
    """A device-to-device copy of `copy_mib` MiB (GB/s, read + write), best of `repeats`, on the device's clock.
    Raises MemoryError, with nothing left allocated, where the two buffers do not fit."""
    words = copy_mib * 2**20 // 4
    source = device.alloc_words(words)
    try:
        target = device.alloc_words(words)
    except MemoryError:
        device.free(source)
        raise
    try:
        source.tensor.fill_(1)
        return best_rate(lambda: device.copy(target.tensor, source.tensor), 2 * words * 4 / 1e9, repeats, device,
                         min_timed_s)
    finally:
        device.free(source)
        device.free(target)


def measure(device, *, copy_mib: int, gemm_size: int, dtypes, repeats: int, min_timed_s: float = MIN_TIMED_S,
            report=lambda f, p: None) -> dict:
    """Measured memory bandwidth (GB/s, read + write) and TFLOP/s per dtype."""
    try:
        results = {"memory_bandwidth_gbs": copy_bandwidth_gbs(device, copy_mib, repeats, min_timed_s)}
    except MemoryError as exc:
        raise CheckCannotStart(f"cannot allocate 2 × {copy_mib} MiB for the copy: {exc}") from None
    report(0.3, "memory bandwidth")
    for index, name in enumerate(dtypes):
        generator = torch.Generator(device=device.torch_device).manual_seed(index)
        a = torch.rand(gemm_size, gemm_size, generator=generator, device=device.torch_device).to(DTYPES[name])
        b = torch.rand(gemm_size, gemm_size, generator=generator, device=device.torch_device).to(DTYPES[name])
        results[f"{name}_tflops"] = best_rate(lambda a=a, b=b: device.matmul(a, b), 2 * gemm_size**3 / 1e12,
                                               repeats, device, min_timed_s)
        report(0.3 + 0.7 * (index + 1) / len(dtypes), f"{name} GEMM")
    return results


def performance_check(ctx: CheckContext, *, reference: ModelReference, fleet: dict | None = None,
                      fleet_cards: int = 0, copy_mib: int = 1024, gemm_size: int = 8192, repeats: int = 5,
                      dtypes=("fp32", "fp16", "bf16"), min_timed_s: float = MIN_TIMED_S) -> CheckResult:
    """`fleet` holds the median of each metric over `fleet_cards` cards of this model tested before; from
    FLEET_MIN_CARDS cards on it is the basis of the verdict instead of the datasheet."""
    device = ctx.device
    chosen = supported_dtypes(device.identity().compute_capability, dtypes)
    measured = measure(device, copy_mib=copy_mib, gemm_size=gemm_size, dtypes=chosen, repeats=repeats,
                       min_timed_s=min_timed_s, report=lambda f, p: ctx.report(f, p))
    use_fleet = bool(fleet) and fleet_cards >= FLEET_MIN_CARDS
    metrics: dict = {"basis": "fleet median" if use_fleet else "datasheet", "fleet_cards": fleet_cards}
    found = Findings()
    worst = 1.0
    for key, value in measured.items():
        datasheet = getattr(reference, key, None)
        target = (fleet or {}).get(key) if use_fleet else None
        if target is None and datasheet:
            target = datasheet * EFFICIENCY[key]
        metrics[key] = round(value, 4)
        if datasheet:
            metrics[f"{key}_vs_datasheet"] = round(value / datasheet, 3)
        if use_fleet and (fleet or {}).get(key):
            metrics[f"{key}_vs_fleet"] = round(value / fleet[key], 3)
        if target:
            ratio = value / target
            metrics[f"{key}_vs_expected"] = round(ratio, 3)
            worst = min(worst, ratio)
            if ratio < PERFORMANCE_PASS_RATIO:
                failed = ratio < PERFORMANCE_WARN_RATIO
                bound = "PERFORMANCE_WARN_RATIO" if failed else "PERFORMANCE_PASS_RATIO"
                (found.fail if failed else found.warn)(
                    "performance.below_expected", f"{key.replace('_', ' ')} {ratio:.0%} of expected",
                    measured={key: round(ratio, 3)},
                    threshold=PERFORMANCE_WARN_RATIO if failed else PERFORMANCE_PASS_RATIO, source=source(bound))
    if not any(key.endswith("_vs_expected") for key in metrics):
        found.warn("performance.no_reference", f"no reference for {reference.name} yet ({fleet_cards} of "
                   f"{FLEET_MIN_CARDS} cards tested, no datasheet figures): recorded without a verdict",
                   measured={"fleet_cards": fleet_cards}, threshold={"fleet_cards": FLEET_MIN_CARDS})
        metrics["basis"] = "none"
    metrics["worst_ratio"] = round(worst, 3)
    result = CheckResult.from_findings(
        "performance", found, f"{measured['memory_bandwidth_gbs']:.1f} GB/s, "
        + ", ".join(f"{d} {measured[f'{d}_tflops']:.2f} TFLOP/s" for d in chosen) + f" ({metrics['basis']})",
        metrics)
    if any(f.code == "performance.below_expected" for f in found):
        result.summary = ("underperforms: " if found.failed else "below expected: ") + result.summary
    elif found:  # no verdict: the measured figures, then why there is none
        result.summary = (f"{measured['memory_bandwidth_gbs']:.1f} GB/s, "
                          + ", ".join(f"{d} {measured[f'{d}_tflops']:.2f} TFLOP/s" for d in chosen)
                          + f"; {found.summary()}")
    return result

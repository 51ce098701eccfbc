"""Compute stress, in the manner of gpu-burn: the same large GEMM again and again, every result checked.

Each result is compared with the first (a healthy card gives the same answer every time) and with a reference
computed once in FP64 (a card that is wrong the same way every time fails too): FP64 runs on other units than the
FP32 and tensor-core paths under stress, so a fault in those does not corrupt the reference with it. Tolerances are per
dtype, relative to the RMS of the reference. A load-cycling phase alternates idle, partial and full load, since
cards that pass at full load can fail in the clock transitions between. Sustained TFLOP/s are measured per dtype.
"""

from __future__ import annotations

import math
import time

import torch

from .base import CheckCannotStart, CheckContext, CheckResult
from .findings import Findings
from .limits import COMPUTE_TOLERANCE, source

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Tensor-core FP16 from Volta (7.0), BF16 from Ampere (8.0).
MIN_CAPABILITY = {"fp32": (0, 0), "fp16": (7, 0), "bf16": (8, 0)}
MAX_REPORTED = 16


def _number(value: torch.Tensor) -> float | str:
    """A float for the evidence; NaN and infinities as strings, since JSON has no such numbers."""
    number = float(value)
    return number if math.isfinite(number) else str(number)


def supported_dtypes(compute_capability: str, wanted) -> list[str]:
    try:
        major, minor = (int(x) for x in compute_capability.split(".")[:2])
    except ValueError:
        major, minor = 0, 0
    return [d for d in wanted if (major, minor) >= MIN_CAPABILITY[d]]


class MismatchCounter:
    """Counts wrong elements per result: wrong = off the FP64 reference (or NaN); inconsistent = right by the
    reference's tolerance yet different from the first result. Each element counts once per result."""

    def __init__(self, name: str, reference: torch.Tensor, tolerance: float):
        self.name = name
        self.reference = reference
        self.rms = float(reference.double().pow(2).mean().sqrt()) or 1.0
        self.limit = tolerance * self.rms
        self.mismatches = 0  # wrong against the reference, NaNs included
        self.nans = 0
        self.inconsistent = 0
        self.max_rel_error = 0.0
        self.first: list[dict] = []

    def check(self, result: torch.Tensor, iteration: int, first: torch.Tensor | None = None) -> None:
        diff = (result.to(self.reference.dtype) - self.reference).abs()
        nan = torch.isnan(result)
        wrong = (diff > self.limit) | nan
        self.nans += int(nan.sum())
        self.mismatches += int(wrong.sum())
        finite = diff[~torch.isnan(diff)]
        if finite.numel():
            self.max_rel_error = max(self.max_rel_error, float(finite.max()) / self.rms)
        self._report(wrong, result, self.reference, "reference", iteration)
        if first is not None:
            drift = ((result.to(self.reference.dtype) - first.to(self.reference.dtype)).abs() > self.limit) & ~wrong
            self.inconsistent += int(drift.sum())
            self._report(drift, result, first, "first", iteration)

    def _report(self, bad: torch.Tensor, result: torch.Tensor, against: torch.Tensor, what: str,
                iteration: int) -> None:
        room = MAX_REPORTED - len(self.first)
        if room <= 0 or not bool(bad.any()):
            return
        n = result.shape[1]
        for flat in bad.view(-1).nonzero().flatten()[:room].tolist():
            self.first.append({"dtype": self.name, "against": what, "iteration": iteration,
                               "row": flat // n, "col": flat % n,
                               "expected": _number(against.view(-1)[flat]),
                               "actual": _number(result.view(-1)[flat])})

    @property
    def errors(self) -> int:
        return self.mismatches + self.inconsistent


def _timed_gemm(device, a, b):
    """One GEMM and its time on the device's own clock (CUDA events; a simulated card's timing model): the GEMM
    alone, since checking the result is not the card's work, and the host's clock would time a simulated card's
    CPU rather than the card."""
    out = []
    seconds = device.timed(lambda: out.append(device.matmul(a, b)))
    return out[0], seconds


def compute_check(ctx: CheckContext, *, size: int = 8192, iterations: int = 20, dtypes=("fp32", "fp16", "bf16"),
                  cycle_s: float = 20.0, seed: int = 0) -> CheckResult:
    device = ctx.device
    identity = device.identity()
    chosen = supported_dtypes(identity.compute_capability, dtypes)
    torch.backends.cuda.matmul.allow_tf32 = False  # FP32 means FP32 here: TF32 would blur the comparison
    free, _ = device.memory_info()
    # Operands, result, reference and temporaries: about 8 matrices of 8 bytes at most.
    fit = int(math.sqrt(max(free, 1) * 0.5 / (8 * 8)))
    n = min(size, fit - fit % 64) if fit >= 64 else 0
    if n < 64:
        raise CheckCannotStart(f"not enough free memory for a 64×64 GEMM ({free} bytes free)")
    steps = len(chosen) * (iterations + 2) + 1
    done = 0
    metrics: dict = {"matrix_size": n, "iterations": iterations, "dtypes": chosen}
    evidence_errors: list[dict] = []
    failing: list[str] = []
    first_results = {}
    for name in chosen:
        dtype = DTYPES[name]
        generator = torch.Generator(device=device.torch_device).manual_seed(seed)
        a = (torch.rand(n, n, generator=generator, device=device.torch_device) * 2 - 1).to(dtype)
        b = (torch.rand(n, n, generator=generator, device=device.torch_device) * 2 - 1).to(dtype)
        reference = device.matmul(a.to(torch.float64), b.to(torch.float64))
        done += 1
        ctx.report(done / steps, f"{name}: reference")
        counter = MismatchCounter(name, reference, COMPUTE_TOLERANCE[name])
        first = device.matmul(a, b)
        device.synchronize()
        counter.check(first, 0)
        first_results[name] = (a, b, first, counter)
        done += 1
        gemm_seconds = 0.0
        for iteration in range(1, iterations + 1):
            result, seconds = _timed_gemm(device, a, b)
            gemm_seconds += seconds
            counter.check(result, iteration, first)
            done += 1
            ctx.report(done / steps, f"{name}: iteration {iteration}/{iterations}")
        metrics[f"{name}_tflops"] = round(2 * n**3 * iterations / gemm_seconds / 1e12, 4) if gemm_seconds else None
        metrics[f"{name}_mismatches"] = counter.mismatches
        metrics[f"{name}_nans"] = counter.nans
        metrics[f"{name}_inconsistent"] = counter.inconsistent
        metrics[f"{name}_max_rel_error"] = float(f"{counter.max_rel_error:.3g}")
        evidence_errors += counter.first
        if counter.errors:
            failing.append(name)

    # Load cycling: idle, half duty, full duty, repeated; results still checked against the first.
    name = chosen[0]
    a, b, first, counter = first_results[name]
    before = counter.errors
    deadline = time.monotonic() + cycle_s
    phase = 0
    cycles = 0
    while time.monotonic() < deadline or phase % 3:  # always finish the cycle begun: idle, partial, full
        mode = ("idle", "partial", "full")[phase % 3]
        window_end = time.monotonic() + max(0.05, cycle_s / 9)
        while time.monotonic() < window_end:
            if mode == "idle":
                time.sleep(min(0.05, max(0.0, window_end - time.monotonic())))
                ctx.report(done / steps, "load cycling: idle")
                continue
            t0 = time.monotonic()
            result = device.matmul(a, b)
            device.synchronize()
            counter.check(result, -1, first)
            if mode == "partial":
                time.sleep(time.monotonic() - t0)
            ctx.report(done / steps, f"load cycling: {mode}")
        phase += 1
        cycles += phase % 3 == 0
    metrics["load_cycles"] = cycles
    metrics["load_cycling_mismatches"] = counter.errors - before
    if metrics["load_cycling_mismatches"] and name not in failing:
        failing.append(name)
    evidence_errors = evidence_errors or counter.first

    found = Findings()
    if failing:
        total = sum(metrics[f"{d}_mismatches"] + metrics[f"{d}_inconsistent"] for d in chosen) + \
            metrics["load_cycling_mismatches"]
        found.fail("compute.sdc", f"{total} wrong results in {', '.join(failing)} GEMMs (silent data corruption)",
                   measured={"wrong_results": total, "dtypes": failing},
                   threshold={d: COMPUTE_TOLERANCE[d] for d in failing}, source=source("COMPUTE_TOLERANCE"))
    rates = ", ".join(f"{d} {metrics[f'{d}_tflops']} TFLOP/s" for d in chosen)
    return CheckResult.from_findings("compute", found, f"{len(chosen)} dtypes, every result correct; {rates}",
                                     metrics, {"first_errors": evidence_errors[:MAX_REPORTED]} if failing else {})

"""Run a plan's checks on one device and give the card a verdict. No database here: the bench service (and
`scripts/gpu_check.sh`) call this and store or print what it returns.

    python -m testbench.runner --plan quick [--simulate N --faults vram_stuck_bit,…] [--json FILE]
    python -m testbench.runner --plan quick [--model SLUG] [--inject vram_stuck_bit,compute_sdc] [--json FILE]

On real GPUs, --inject plants memory and compute faults in each card's real data path (FaultInjectingDevice), to
show the checks find them on that hardware; --model declares the catalog model instead of matching the PCI id.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .checks.base import CheckContext, CheckResult, CheckStatus, error_result, run_check
from .hardware.base import DeviceLost, GpuDevice
from .plans import plan_for
from .reference import ModelReference, catalog_references, reference_from_identity


def _checks() -> dict[str, Callable]:
    from .checks.ai import ai_check
    from .checks.compute import compute_check
    from .checks.health import health_check
    from .checks.identity import identity_check
    from .checks.pcie import pcie_check
    from .checks.performance import performance_check
    from .checks.thermal import thermal_check
    from .checks.vram import vram_check

    return {"identity": identity_check, "vram": vram_check, "compute": compute_check,
            "performance": performance_check, "pcie": pcie_check, "thermal": thermal_check, "health": health_check,
            "ai": ai_check}


@dataclass
class CardReport:
    label: str
    declared: str
    verdict: CheckStatus
    checks: list[CheckResult] = field(default_factory=list)
    identity: dict = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def as_dict(self) -> dict:
        return {"device": self.label, "model": self.declared, "verdict": str(self.verdict),
                "faults": self.faults, "identity": self.identity, "duration_s": round(self.duration_s, 2),
                "checks": [{"name": c.name, "status": str(c.status), "summary": c.summary, "metrics": c.metrics}
                           for c in self.checks]}


def run_plan(device: GpuDevice, *, declared: ModelReference, plan: dict[str, dict],
             progress=None, cancelled=None, fleet: dict | None = None, fleet_cards: int = 0) -> CardReport:
    """Every check of `plan` on `device`, in order. A lost device ends the run (the remaining checks are errors);
    the verdict is the worst status of any check."""
    checks = _checks()
    started = time.monotonic()
    ctx = CheckContext(device, progress=progress, cancelled=cancelled)
    results: list[CheckResult] = []
    baseline = None
    identity: dict = {}
    lost = None
    for name, params in plan.items():
        if lost is not None:
            results.append(error_result(name, "device.lost", f"not run: device lost ({lost})", {}))
            continue
        params = dict(params)
        if name in ("identity", "pcie"):
            params["declared"] = declared
        elif name == "performance":
            params.update(reference=declared, fleet=fleet, fleet_cards=fleet_cards)
        elif name == "health":
            params.update(baseline=baseline, declared=declared)
        if baseline is None:
            try:
                baseline = device.telemetry()
                identity = device.identity().as_dict()
            except DeviceLost as exc:
                lost = exc.detail
                results.append(error_result(name, "device.lost", f"device lost: {exc.detail}", {}))
                continue
        result = run_check(name, checks[name], ctx, **params)
        results.append(result)
        if "device_lost" in result.evidence:
            lost = result.evidence["device_lost"]
    verdict = CheckStatus.worst(r.status for r in results)
    return CardReport(label=device.label, declared=declared.slug, verdict=verdict, checks=results,
                      identity=identity, duration_s=time.monotonic() - started)


def reference_for_device(device: GpuDevice) -> ModelReference:
    """The catalog model a device's PCI id belongs to (for runs where no unit declares one); a card the catalog
    does not know is described by what it reports (reference_from_identity) and tested all the same."""
    identity = device.identity()
    matches = [r for r in catalog_references().values()
               if identity.pci_vendor_id == r.pci_vendor_id and identity.pci_device_id in r.pci_device_ids]
    return matches[0] if matches else reference_from_identity(identity)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbench.runner", description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default="quick")
    parser.add_argument("--simulate", type=int, default=0, help="run on N simulated cards instead of GPUs")
    parser.add_argument("--faults", default="", help="comma-separated fault profiles for the simulated cards")
    parser.add_argument("--model", default="", help="declare this catalog model (slug) for every card")
    parser.add_argument("--inject", default="", help="comma-separated fault profiles to plant in real GPUs")
    parser.add_argument("--json", dest="json_file", help="write the report as JSON to this file ('-': stdout)")
    args = parser.parse_args(argv)
    if args.model and args.model not in catalog_references():
        parser.error(f"unknown model {args.model!r}; see inventory/data/gpu_catalog.toml for the slugs")
    if args.inject and args.simulate:
        parser.error("--inject is for real GPUs; simulated cards take --faults")
    if args.simulate:
        import torch

        from .hardware.faults import build_fault_plan
        from .hardware.simulated import SimulatedDevice

        torch.set_num_threads(1)  # a simulated card computes on one CPU thread: steady timings, fair sharing
        profiles = [p for p in args.faults.split(",") if p] or ["healthy"]
        devices = [SimulatedDevice(index=i, seed=i, time_scale=120.0,
                                   faults=build_fault_plan([profiles[i % len(profiles)]], seed=i,
                                                           memory_bytes=64 * 2**20))
                   for i in range(args.simulate)]
    else:
        from .hardware.nvml import discover_nvml_devices

        devices = [d for d in discover_nvml_devices() if d.cuda_index is not None]
        if not devices:
            print("no CUDA GPU found (use --simulate N for simulated cards)", file=sys.stderr)
            return 2
        if args.inject:
            from .hardware.faults import build_fault_plan
            from .hardware.injected import FaultInjectingDevice

            try:
                devices = [FaultInjectingDevice(d, build_fault_plan(args.inject.split(","), seed=d.index,
                                                                    memory_bytes=d.memory_info()[0]), seed=d.index)
                           for d in devices]
            except ValueError as exc:
                parser.error(str(exc))
    reports = []
    for device in devices:
        try:
            simulated = device.identity().simulated
            reference = catalog_references()[args.model] if args.model else reference_for_device(device)
        except (DeviceLost, LookupError) as exc:
            print(f"{device.label}: error: {exc}", file=sys.stderr)
            reports.append({"device": device.label, "model": None, "verdict": "error", "faults": [],
                            "identity": {}, "duration_s": 0, "checks": [], "error": str(exc)})
            continue
        plan = plan_for(args.plan, simulated=simulated)
        report = run_plan(device, declared=reference, plan=plan,
                          progress=lambda check, fraction, phase, label=device.label: print(
                              f"\r{label} {check:<12} {fraction:5.0%} {phase[:40]:<40}", end="", file=sys.stderr))
        print(file=sys.stderr)
        if simulated or args.inject:
            report.faults = list(device.faults.profiles)
        reports.append(report.as_dict())
        print(f"{device.label}: {report.verdict} "
              + "; ".join(f"{c.name} {c.status}" for c in report.checks), file=sys.stderr)
    body = json.dumps(reports, indent=2, default=str)
    if args.json_file == "-":
        print(body)
    elif args.json_file:
        with open(args.json_file, "w") as handle:
            handle.write(body)
    return 0 if all(r["verdict"] in ("pass", "warn") for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())

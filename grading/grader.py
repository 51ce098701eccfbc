"""From a test run's results to a functional grade with reasons. Django-free: it reads check results as plain dicts
(a CheckResultRecord's fields, or CheckResult.as_dict()), so it grades stored runs and fresh reports alike.

Every reason carries a machine-readable code, the check, the measured value, the threshold and a sentence a buyer
can read ("VRAM: 6 errors, one bad cell: bit 4 at 0x8996c4"; "BF16 throughput 83% of reference").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .policy import POLICY, marketplace_conditions
from .readiness import ai_readiness

FAIL, LIMIT, WARN = "fail", "limit", "warn"  # reason severities: FAIL, F-C, F-B


@dataclass(frozen=True)
class Reason:
    code: str
    check: str
    severity: str
    measured: object
    threshold: object
    sentence: str


@dataclass
class Grade:
    functional: str  # F-A, F-B, F-C or FAIL
    cosmetic: str  # A–D from the inspection, "" if none
    policy_version: str
    reasons: list[Reason] = field(default_factory=list)
    disposition: str = "graded"  # the unit's next state: graded, repair or failed
    marketplace: dict = field(default_factory=dict)
    ai: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"functional": self.functional, "cosmetic": self.cosmetic, "policy_version": self.policy_version,
                "reasons": [asdict(r) for r in self.reasons], "disposition": self.disposition,
                "marketplace": self.marketplace, "ai": self.ai}


def _ratio_text(key: str) -> str:
    return key.replace("_vs_expected", "").replace("_gbs", "").replace("_tflops", "").replace("_", " ")


def _performance(result: dict, policy: dict) -> list[Reason]:
    metrics = result.get("metrics") or {}
    ratios = {k: v for k, v in metrics.items() if k.endswith("_vs_expected") and isinstance(v, int | float)}
    if not ratios:
        return [Reason("performance_unmeasured", "performance", FAIL, None, policy["performance"]["c"],
                       f"performance: not measured ({result.get('summary', '')})")]
    key, worst = min(ratios.items(), key=lambda item: item[1])
    what = _ratio_text(key).upper().replace("MEMORY BANDWIDTH", "memory bandwidth")
    basis = metrics.get("basis", "reference")
    limits = policy["performance"]
    for severity, code, bound in ((FAIL, "underperforms", limits["c"]), (LIMIT, "performance_reduced", limits["b"]),
                                  (WARN, "performance_below_reference", limits["a"])):
        if worst < bound:
            return [Reason(code, "performance", severity, round(worst, 3), bound,
                           f"{what} throughput {worst:.0%} of reference ({basis}; {bound:.0%} needed for "
                           f"{'a pass' if severity == FAIL else 'the grade above'})")]
    return []


def _vram(result: dict) -> list[Reason]:
    metrics, evidence = result.get("metrics") or {}, result.get("evidence") or {}
    if result["status"] == "fail":
        errors = metrics.get("errors")
        first = (evidence.get("first_errors") or [{}])[0]
        detail = evidence.get("diagnosis") or result.get("summary", "")
        where = ""
        if first.get("address") is not None:
            where = (f"; first at {first['address']}: wrote {first.get('expected')}, read {first.get('actual')}"
                     if first.get("expected") is not None else f"; first at {first['address']}")
        return [Reason("vram_errors", "vram", FAIL, errors, 0, f"VRAM: {errors} bit errors, {detail}{where}")]
    if result["status"] == "warn":
        coverage = metrics.get("coverage_of_free")
        return [Reason("vram_coverage", "vram", WARN, coverage, 0.95,
                       f"VRAM: only {coverage:.0%} of free memory tested" if coverage is not None
                       else f"VRAM: {result.get('summary', '')}")]
    return []


def _thermal(result: dict) -> list[Reason]:
    metrics, summary = result.get("metrics") or {}, result.get("summary", "")
    delta, peak = metrics.get("peak_hotspot_delta_c"), metrics.get("peak_gpu_temp_c")
    reasons = []
    if result["status"] == "fail":
        clauses = [c.strip() for c in summary.split(";")]
        fan = [c for c in clauses if "fan" in c]
        if fan:  # the heat follows from the fan: one cause, one fix
            heat = [c for c in clauses if "°C" in c][:1]
            reasons.append(Reason("fan_failed", "thermal", FAIL, fan[0], "every fan follows its target",
                                  f"cooling: {'; '.join(fan + heat)} (fan replacement)"))
        else:
            reasons.append(Reason("thermal_limit", "thermal", FAIL, {"peak_gpu_c": peak, "hotspot_delta_c": delta},
                                  {"gpu_c": 92, "hotspot_delta_c": 30},
                                  f"thermal: {summary}" + ("" if "repaste" in summary else " (repaste and new pads)")))
    elif result["status"] == "warn":
        throttled = "throttling" in summary
        reasons.append(Reason("thermal_throttling" if throttled else "thermal_warning", "thermal", WARN,
                              {"peak_gpu_c": peak, "hotspot_delta_c": delta, "throttle": metrics.get(
                                  "throttle_reasons_seen")}, {"gpu_c": 83, "hotspot_delta_c": 20},
                              f"thermal: {summary}"))
    return reasons


def _generic(result: dict, code_fail: str, code_warn: str, *, warn_severity: str = WARN) -> list[Reason]:
    name, summary = result["name"], result.get("summary", "")
    if result["status"] == "fail":
        return [Reason(code_fail, name, FAIL, result.get("metrics"), None, f"{name}: {summary}")]
    if result["status"] == "warn":
        return [Reason(code_warn, name, warn_severity, result.get("metrics"), None, f"{name}: {summary}")]
    return []


def _health(result: dict, *, thermal_failed: bool) -> list[Reason]:
    """The health counters. Throttling for heat is the thermal check's cause to name when that check failed: the
    card's counters are not a second fault."""
    if result["status"] == "pass":
        return []
    clauses = [c.strip() for c in result.get("summary", "").split(";") if c.strip()]
    if thermal_failed:
        clauses = [c for c in clauses if "throttl" not in c]
    if not clauses:
        return []
    severity, code = (FAIL, "health_counters") if result["status"] == "fail" else (WARN, "health_warning")
    return [Reason(code, "health", severity, result.get("metrics"), None, f"health: {'; '.join(clauses)}")]


def _pcie(result: dict) -> list[Reason]:
    metrics, summary = result.get("metrics") or {}, result.get("summary", "")
    if result["status"] == "fail":
        return [Reason("pcie_transfer", "pcie", FAIL, metrics.get("worst_vs_link"), 0.35, f"PCIe: {summary}")]
    if result["status"] == "warn":
        link = f"gen{metrics.get('link_generation')} x{metrics.get('link_width')}"
        built = f"gen{metrics.get('card_generation')} x{metrics.get('card_width')}"
        if link != built:
            return [Reason("pcie_link_limited", "pcie", LIMIT, link, built,
                           f"PCIe link {link} where the card is built for {built}: host transfers limited to "
                           f"{metrics.get('link_gbs')} GB/s")]
        return [Reason("pcie_slow", "pcie", WARN, metrics.get("worst_vs_link"), 0.6, f"PCIe: {summary}")]
    return []


def grade_results(results: list[dict], *, reference, cosmetic: str = "", identity: dict | None = None,
                  policy: dict = POLICY, marketplace_options: dict | None = None) -> Grade:
    """Grade one run's check results (in run order) for a card of catalog model `reference`. `marketplace_options`
    are the seller's eBay standing (see policy.marketplace_conditions)."""
    reasons: list[Reason] = []
    by_name = {r["name"]: r for r in results}
    for result in results:
        name, status = result["name"], result["status"]
        if status == "error":
            summary = result.get("summary", "")
            code = "device_lost" if "device lost" in summary else "check_error"
            reasons.append(Reason(code, name, FAIL, status, "a finished check",
                                  f"{name}: {'the card stopped answering' if code == 'device_lost' else summary}"))
        elif name == "performance":
            reasons += _performance(result, policy)
        elif name == "vram":
            reasons += _vram(result)
        elif name == "thermal":
            reasons += _thermal(result)
        elif name == "pcie":
            reasons += _pcie(result)
        elif name == "identity":
            reasons += _generic(result, "identity_mismatch", "mining_leftovers")
        elif name == "compute":
            if status == "fail":
                reasons.append(Reason("compute_mismatch", "compute", FAIL, None, 0, f"compute: {result['summary']}"))
        elif name == "health":
            reasons += _health(result, thermal_failed=(by_name.get("thermal") or {}).get("status") == "fail")
        else:
            reasons += _generic(result, f"{name}_failed", f"{name}_warning")
    # An overheating card throttles, so its performance says nothing about the chip: the thermal cause is named, and
    # performance is graded on the retest after the repair.
    heat = [i for i, r in enumerate(reasons) if r.code in ("fan_failed", "thermal_limit")]
    if heat and any(r.check == "performance" for r in reasons):
        reasons = [r for r in reasons if r.check != "performance"]
        first = next(i for i, r in enumerate(reasons) if r.code in ("fan_failed", "thermal_limit"))
        cause = reasons[first]
        reasons[first] = Reason(cause.code, cause.check, cause.severity, cause.measured, cause.threshold,
                                cause.sentence + "; performance is graded on the retest after the repair")
    severities = {r.severity for r in reasons}
    functional = "FAIL" if FAIL in severities else "F-C" if LIMIT in severities else \
        "F-B" if WARN in severities else "F-A"
    failing = {r.code for r in reasons if r.severity == FAIL}
    disposition = "graded"
    if failing:
        disposition = "repair" if failing <= set(policy["repairable"]) else "failed"
    order = {FAIL: 0, LIMIT: 1, WARN: 2}
    reasons.sort(key=lambda r: order[r.severity])
    readiness = ai_readiness(reference=reference, performance=(by_name.get("performance") or {}).get("metrics"),
                             identity=identity, policy=policy) if functional != "FAIL" else {}
    return Grade(functional=functional, cosmetic=cosmetic or "", policy_version=policy["version"], reasons=reasons,
                 disposition=disposition,
                 marketplace=marketplace_conditions(functional, cosmetic or "", **(marketplace_options or {})),
                 ai=readiness)
